"""The reference nn: Module, Neuron, Layer and MLP."""

from __future__ import annotations

import random

import pytest

from autograder.reference import solution as reference

micrograd = reference.load()
nn = micrograd.nn
Value = micrograd.engine.Value


def test_mlp_3_4_4_1_has_41_parameters():
    model = nn.MLP(3, [4, 4, 1])
    parameters = model.parameters()
    assert len(parameters) == 41  # (3 + 1) * 4 + (4 + 1) * 4 + (4 + 1) * 1
    assert len({id(p) for p in parameters}) == 41  # 41 distinct Values, none listed twice
    assert all(isinstance(p, Value) for p in parameters)


def test_parameters_are_the_weights_and_biases_used_in_the_forward_pass():
    neuron = nn.Neuron(2, nonlin=False)
    out = neuron([1.0, 1.0])
    out.backward()
    assert [p.grad for p in neuron.parameters()] == [1.0, 1.0, 1.0]  # w1, w2 and b all reached
    assert neuron.parameters()[-1] is neuron.b


def test_zero_grad_resets_every_parameter():
    model = nn.MLP(3, [4, 4, 1], rng=random.Random(0))
    for p in model.parameters():
        p.grad = 1.5
    model.zero_grad()
    assert [p.grad for p in model.parameters()] == [0.0] * 41


def test_zero_grad_after_a_real_backward_pass():
    model = nn.MLP(2, [3, 1], rng=random.Random(1))
    model([0.5, -1.0]).backward()
    assert any(p.grad != 0 for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0 for p in model.parameters())


def test_a_module_without_parameters_has_none():
    assert nn.Module().parameters() == []
    nn.Module().zero_grad()  # nothing to reset, and no error


@pytest.mark.parametrize("inputs", [[1.0], [1.0, 2.0, 3.0], []])
def test_neuron_with_the_wrong_number_of_inputs_says_so(inputs):
    with pytest.raises(ValueError, match=rf"takes 2 inputs, got {len(inputs)}"):
        nn.Neuron(2)(inputs)


def test_rng_makes_the_initial_weights_reproducible():
    def weights(seed):
        return [p.data for p in nn.MLP(2, [16, 16, 1], rng=random.Random(seed)).parameters()]

    assert weights(3) == weights(3)
    assert weights(3) != weights(4)


def test_without_rng_the_random_module_seeds_the_weights():
    random.seed(5)
    first = [p.data for p in nn.MLP(2, [4, 1]).parameters()]
    random.seed(5)
    assert [p.data for p in nn.MLP(2, [4, 1]).parameters()] == first


def test_hidden_layers_are_relu_and_the_last_layer_is_linear():
    model = nn.MLP(2, [3, 3, 1])
    assert [[n.nonlin for n in layer.neurons] for layer in model.layers] == [[True] * 3, [True] * 3,
                                                                             [False]]
    for p in model.layers[0].parameters():
        p.data = -1.0  # every first-layer neuron gets a negative sum: relu makes it 0
    for p in model.layers[1].parameters():
        p.data = 1.0  # zeros in, so each neuron gives its bias, 1
    for p in model.layers[2].parameters():
        p.data = -1.0  # a linear output may be negative: -(1 + 1 + 1) - 1
    out = model([1.0, 1.0])
    assert isinstance(out, Value)  # a one-neuron layer gives its Value, not a list
    assert out.data == -4.0


def test_a_layer_returns_one_value_per_neuron():
    out = nn.Layer(2, 3, nonlin=False)([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 3
    assert all(isinstance(v, Value) for v in out)


def test_reprs_say_what_the_module_is():
    model = nn.MLP(3, [4, 4, 1])
    assert repr(nn.Neuron(3)) == "ReLUNeuron(3)"
    assert repr(nn.Neuron(3, nonlin=False)) == "LinearNeuron(3)"
    assert repr(nn.Layer(2, 2)) == "Layer of [ReLUNeuron(2), ReLUNeuron(2)]"
    assert repr(model) == "MLP(3 -> 4 -> 4 -> 1, 41 parameters)"
    assert repr(Value(2.5)) == "Value(data=2.5, grad=0)"
    assert repr(Value(2.5, label="x")) == "Value(data=2.5, grad=0, label='x')"
