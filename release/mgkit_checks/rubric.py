"""The one rubric: the contract's ten task ids, their points, titles and stub hints.

Everything that lists tasks reads them from here: the solution markers, the stubs,
the pytest markers, the grading loop, the results and the README's task table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Task:
    id: str
    points: int
    title: str  # what the student writes, for tables and feedback
    hint: str  # the one line a stub raises with: what to write, not the answer

    @property
    def message(self) -> str:
        """What a stub says, and the notebook above a region: the task and what to write."""
        return f"{self.id}: {self.hint}"

    @property
    def row(self) -> str:
        """The task in a Markdown table of id, points and what the student writes."""
        return f"| `{self.id}` | {self.points} | {self.title} |"


TASKS: tuple[Task, ...] = (
    Task("add_backward", 8, "the _backward closure of +",
         "add each input's local derivative of a + b, times out.grad, to that input's .grad"),
    Task("mul_backward", 8, "the _backward closure of *",
         "add each input's local derivative of a * b (the other input), times out.grad, to its .grad"),
    Task("pow_backward", 8, "the _backward closure of **",
         "add the power rule's derivative of self.data**other, times out.grad, to self.grad"),
    Task("tanh_backward", 8, "the _backward closure of tanh",
         "add the derivative of tanh, written with t = tanh(x), times out.grad, to self.grad"),
    Task("exp_backward", 8, "the _backward closure of exp",
         "add the derivative of e**x (e**x itself, already in out.data), times out.grad, to self.grad"),
    Task("relu_backward", 8, "the _backward closure of relu",
         "add out.grad to self.grad where the relu was active (out.data > 0), nothing elsewhere"),
    Task("topo_sort", 14, "backward(): topological order, seed, each _backward once",
         "sort the graph so each value follows its inputs, set self.grad = 1, "
         "then call every _backward from the output back"),
    Task("grad_accumulation", 12, "gradients add up when a value is used more than once",
         "use += in every _backward: a value that feeds several ops gets the sum of their gradients"),
    Task("zero_grad", 10, "Module.zero_grad(), and zeroing before every backward pass in training",
         "set every parameter's .grad to 0 (the training loop calls this before each backward pass)"),
    Task("training_loop", 16, "the training loop: zero grads, forward, loss, backward, update, repeated",
         "zero the gradients, compute scores and the loss, call loss.backward(), "
         "then move every parameter against its gradient"),
)

TASK_IDS: tuple[str, ...] = tuple(task.id for task in TASKS)
BY_ID: dict[str, Task] = {task.id: task for task in TASKS}
TOTAL_POINTS: int = sum(task.points for task in TASKS)
