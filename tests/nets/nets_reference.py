"""Hand-written jax.numpy versions of the nets layers, used as numerical references.

They take parameters explicitly and use only slicing, padding, einsum and
elementwise ops (no lax.conv / reduce_window), so a bug in a layer's use of the
XLA primitives cannot hide in the reference too.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np


def linear(x, w, b=None):
    out = jnp.einsum("...i,io->...o", x, w)
    return out if b is None else out + jnp.broadcast_to(b, out.shape)


def _same_pads(size: int, kernel: int, stride: int) -> tuple[int, int, int]:
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return out, total // 2, total - total // 2


def _window_geometry(x, kernel, stride, padding, rate=(1, 1)):
    """Output sizes and (low, high) pads for H and W, given effective (dilated) kernel sizes."""
    geometry = []
    for axis in (1, 2):
        k_eff = (kernel[axis - 1] - 1) * rate[axis - 1] + 1
        size = x.shape[axis]
        if padding == "SAME":
            geometry.append(_same_pads(size, k_eff, stride[axis - 1]))
        else:
            geometry.append(((size - k_eff) // stride[axis - 1] + 1, 0, 0))
    return geometry


def conv2d_nhwc(x, w, b, stride=(1, 1), padding="SAME", rate=(1, 1)):
    """x [N, H, W, C], w [kh, kw, C, O], b [O] or None -> [N, H', W', O]."""
    kh, kw = w.shape[:2]
    (oh, pt, pb), (ow, pl, pr) = _window_geometry(x, (kh, kw), stride, padding, rate)
    xp = jnp.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    out = jnp.zeros((x.shape[0], oh, ow, w.shape[-1]), x.dtype)
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * rate[0], j * rate[1]
            patch = xp[:, r0:r0 + (oh - 1) * stride[0] + 1:stride[0], c0:c0 + (ow - 1) * stride[1] + 1:stride[1], :]
            out = out + jnp.einsum("nhwc,co->nhwo", patch, w[i, j])
    return out if b is None else out + jnp.broadcast_to(b, out.shape)


def max_pool_nhwc(x, window=(3, 3), stride=(2, 2), padding="SAME"):
    (oh, pt, pb), (ow, pl, pr) = _window_geometry(x, window, stride, padding)
    xp = jnp.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)), constant_values=-jnp.inf)
    out = jnp.full((x.shape[0], oh, ow, x.shape[-1]), -jnp.inf, x.dtype)
    for i in range(window[0]):
        for j in range(window[1]):
            out = jnp.maximum(out, xp[:, i:i + (oh - 1) * stride[0] + 1:stride[0],
                                      j:j + (ow - 1) * stride[1] + 1:stride[1], :])
    return out


def avg_pool_nhwc(x, window, stride, padding):
    """Average over real (unpadded) cells only."""
    (oh, pt, pb), (ow, pl, pr) = _window_geometry(x, window, stride, padding)
    xp = jnp.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    mask = jnp.pad(jnp.ones_like(x), ((0, 0), (pt, pb), (pl, pr), (0, 0)))
    total = jnp.zeros((x.shape[0], oh, ow, x.shape[-1]), x.dtype)
    count = jnp.zeros_like(total)
    for i in range(window[0]):
        for j in range(window[1]):
            rows = slice(i, i + (oh - 1) * stride[0] + 1, stride[0])
            cols = slice(j, j + (ow - 1) * stride[1] + 1, stride[1])
            total = total + xp[:, rows, cols, :]
            count = count + mask[:, rows, cols, :]
    return total / count


def layer_norm_last_axis(x, scale, offset, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    normed = (x - mean) / jnp.sqrt(var + eps)
    return normed * jnp.broadcast_to(scale, x.shape) + jnp.broadcast_to(offset, x.shape)


def sigmoid(x):
    return 1.0 / (1.0 + jnp.exp(-x))


def lstm_step(params, x, h, c):
    """Haiku's LSTM step with its single linear layer: gates i, g, f, o; forget bias +1."""
    hidden = h.shape[-1]
    gates = linear(jnp.concatenate([x, h], axis=-1), params["w"], params["b"])
    i, g, f, o = (gates[..., k * hidden:(k + 1) * hidden] for k in range(4))
    c = sigmoid(f + 1.0) * c + sigmoid(i) * jnp.tanh(g)
    h = sigmoid(o) * jnp.tanh(c)
    return h, c


def gru_step(params, x, h):
    """GRU step with w_i [D, 3H], w_h [H, 3H], b [3H]; gate blocks z, r, a."""
    hidden = h.shape[-1]
    w_i, w_h, b = params["w_i"], params["w_h"], params["b"]
    block = lambda m, k: m[..., k * hidden:(k + 1) * hidden]
    z = sigmoid(x @ block(w_i, 0) + h @ block(w_h, 0) + jnp.broadcast_to(block(b, 0), h.shape))
    r = sigmoid(x @ block(w_i, 1) + h @ block(w_h, 1) + jnp.broadcast_to(block(b, 1), h.shape))
    a = jnp.tanh(x @ block(w_i, 2) + (r * h) @ block(w_h, 2) + jnp.broadcast_to(block(b, 2), h.shape))
    return (1.0 - z) * h + z * a


def impala_deep_torso(params, prefix, frames_uint8):
    """IMPALA deep torso from the reference ops; params[f"{prefix}/conv_0"]["w"] etc."""
    x = frames_uint8.astype(jnp.float32) / 255.0
    p = lambda name: params[f"{prefix}/{name}"]
    for section in range(3):
        x = conv2d_nhwc(x, p(f"conv_{section}")["w"], p(f"conv_{section}")["b"])
        x = max_pool_nhwc(x)
        for block in range(2):
            block_name = f"residual_{section}_{block}"
            y = jax.nn.relu(x)
            y = conv2d_nhwc(y, p(f"{block_name}/conv_0")["w"], p(f"{block_name}/conv_0")["b"])
            y = jax.nn.relu(y)
            y = conv2d_nhwc(y, p(f"{block_name}/conv_1")["w"], p(f"{block_name}/conv_1")["b"])
            x = x + y
    x = jax.nn.relu(x).reshape(x.shape[0], -1)
    return jax.nn.relu(linear(x, p("linear")["w"], p("linear")["b"]))


def numpy_tree(tree):
    return jax.tree_util.tree_map(np.asarray, tree)


def random_params(params, seed=5):
    """Replaces every parameter by a random normal array (so zero biases cannot hide bugs)."""
    leaves, tree = jax.tree_util.tree_flatten(params)
    keys = jax.random.split(jax.random.PRNGKey(seed), len(leaves))
    return jax.tree_util.tree_unflatten(tree, [jax.random.normal(k, x.shape, x.dtype) for k, x in zip(keys, leaves)])
