"""`Embed`: a lookup table of learned vectors (Haiku's `hk.Embed`)."""

from __future__ import annotations

from typing import Any, Optional

import jax
import jax.numpy as jnp

from vtrax.nets import initializers
from vtrax.nets.base import Initializer, get_parameter
from vtrax.nets.module import Module

_LOOKUP_STYLES = ("ARRAY_INDEX", "ONE_HOT")


class Embed(Module):
    """Maps integer ids [...] to vectors [..., embed_dim] via the parameter `embeddings` [vocab_size, embed_dim].

    Default init is truncated normal with stddev 1. Pass `embedding_matrix` to
    start from a given table instead of `vocab_size`/`embed_dim`.
    """

    def __init__(self, vocab_size: Optional[int] = None, embed_dim: Optional[int] = None,
                 embedding_matrix: Optional[Any] = None, w_init: Optional[Initializer] = None,
                 lookup_style: str = "ARRAY_INDEX", name: Optional[str] = None):
        super().__init__(name=name)
        if embedding_matrix is None and not (vocab_size and embed_dim):
            raise ValueError("Embed needs vocab_size and embed_dim (both >= 1), or an embedding_matrix.")
        if embedding_matrix is not None:
            if w_init is not None:
                raise ValueError("Embed: pass either embedding_matrix or w_init, not both.")
            embedding_matrix = jnp.asarray(embedding_matrix)
            shape = tuple(embedding_matrix.shape)
            if len(shape) != 2 or (vocab_size, embed_dim) not in ((None, None), shape):
                raise ValueError(f"Embed: embedding_matrix must be [vocab_size, embed_dim]; got shape {shape} with "
                                 f"vocab_size={vocab_size}, embed_dim={embed_dim}.")
            vocab_size, embed_dim = shape
            w_init = initializers.Constant(embedding_matrix)
        _check_lookup_style(lookup_style)
        self.vocab_size = int(vocab_size)
        self.embed_dim = int(embed_dim)
        self.lookup_style = lookup_style
        self.w_init = w_init or initializers.TruncatedNormal()

    @property
    def embeddings(self) -> jax.Array:
        return get_parameter("embeddings", [self.vocab_size, self.embed_dim], init=self.w_init)

    def __call__(self, ids: jax.Array, lookup_style: Optional[str] = None, precision: Any = None) -> jax.Array:
        """Integer ids [...] -> embeddings [..., embed_dim]."""
        ids = jnp.asarray(ids)
        if not jnp.issubdtype(ids.dtype, jnp.integer):
            raise ValueError(f"Embed '{self.module_name}' needs integer ids but got dtype {ids.dtype}; cast with "
                             ".astype(jnp.int32).")
        style = lookup_style or self.lookup_style
        _check_lookup_style(style)
        embeddings = self.embeddings
        if style == "ONE_HOT":
            return jnp.dot(jax.nn.one_hot(ids, self.vocab_size, dtype=embeddings.dtype), embeddings,
                           precision=precision)
        return embeddings[(ids,)]


def _check_lookup_style(style: str) -> None:
    if style not in _LOOKUP_STYLES:
        raise ValueError(f"Embed lookup_style must be one of {_LOOKUP_STYLES}, got {style!r}.")
