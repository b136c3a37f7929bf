"""The public checks of the micrograd tasks, copied from the kit."""
