"""`MLP`: a stack of `Linear` layers with an activation in between (Haiku's `hk.nets.MLP`)."""

from __future__ import annotations

from typing import Any, Callable, Optional, Sequence

import jax

from vtrax.nets.base import Initializer
from vtrax.nets.basic import dropout
from vtrax.nets.linear import Linear
from vtrax.nets.module import Module
from vtrax.nets.rng import PRNGSequence


class MLP(Module):
    """Multi-layer perceptron; layer `i` is `Linear(output_sizes[i], name=f"linear_{i}")`.

    Parameters live under `mlp/~/linear_0`, `mlp/~/linear_1`, ... exactly as in Haiku.
    """

    def __init__(self, output_sizes: Sequence[int], w_init: Optional[Initializer] = None,
                 b_init: Optional[Initializer] = None, with_bias: bool = True,
                 activation: Callable[[jax.Array], jax.Array] = jax.nn.relu, activate_final: bool = False,
                 name: Optional[str] = None):
        """Args:
          output_sizes: width of each layer, e.g. (64, 64, num_actions).
          w_init, b_init: initializers passed to every `Linear`.
          with_bias: whether the layers have biases.
          activation: applied between layers (and after the last if activate_final).
          activate_final: apply the activation (and dropout) after the last layer too.
          name: module name; default "mlp".
        """
        if not with_bias and b_init is not None:
            raise ValueError("MLP: b_init was given but with_bias=False; drop b_init or set with_bias=True.")
        super().__init__(name=name)
        self.with_bias = with_bias
        self.activation = activation
        self.activate_final = activate_final
        self.layers = tuple(Linear(size, with_bias=with_bias, w_init=w_init, b_init=b_init, name=f"linear_{index}")
                            for index, size in enumerate(output_sizes))
        self.output_size = int(output_sizes[-1]) if output_sizes else None

    def __call__(self, inputs: jax.Array, dropout_rate: Optional[float] = None, rng: Any = None) -> jax.Array:
        """[..., input_size] -> [..., output_sizes[-1]].

        Args:
          inputs: input features.
          dropout_rate: if set, dropout applied after each activated layer (needs `rng`).
          rng: PRNG key for dropout.
        """
        if dropout_rate is not None and rng is None:
            raise ValueError("MLP: dropout_rate was given without rng; pass rng=jax.random.PRNGKey(...) "
                             "(e.g. nets.next_rng_key()) or drop dropout_rate.")
        keys = PRNGSequence(rng) if rng is not None else None
        out = inputs
        last = len(self.layers) - 1
        for index, layer in enumerate(self.layers):
            out = layer(out)
            if index < last or self.activate_final:
                if dropout_rate is not None:
                    out = dropout(next(keys), dropout_rate, out)
                out = self.activation(out)
        return out
