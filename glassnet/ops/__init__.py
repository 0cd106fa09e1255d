"""Every differentiable operation, one small Function class each, forward and backward side by side."""
