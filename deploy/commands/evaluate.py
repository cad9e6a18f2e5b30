"""`vtrax eval RUN_DIR`: play the latest checkpoint's policy and print the return's mean and std."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from vtrax.deploy.config import TrainConfig, network_options
from vtrax.deploy.runtime.run_dir import read_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="A run directory written by `vtrax train`.")
    parser.add_argument("--episodes", type=int, default=10, help="Episodes to play (default 10).")
    parser.add_argument("--sampled", action="store_true", help="Sample actions instead of acting greedily (the argmax, or a Gaussian policy's mean action).")
    parser.add_argument("--video", metavar="PATH", default=None,
                        help="Write the first episode as a video: PATH ends in .gif or .mp4.")
    parser.add_argument("--seed", type=int, default=12345, help="Seed of the evaluation environments.")
    parser.add_argument("--json", action="store_true", help="Print one JSON object instead of a sentence.")


def evaluate(run_dir: Path, *, episodes: int, greedy: bool, seed: int, video: str | None = None) -> dict:
    """Returns {'returns': [...], 'mean': m, 'std': s, 'episodes': n, 'greedy': g, 'env_id': id}."""
    import jax

    from vtrax.actors import env_spec, make_env, make_recurrent_select_action, make_select_action
    from vtrax.actors.environments import to_env_action
    from vtrax.learner import load_params, make_network
    from vtrax.learner.action_distribution import action_distribution

    config = TrainConfig.from_dict(read_json(run_dir / "config.json"))
    spec = env_spec(config.env_id)
    env = make_env(config.env_id, seed=seed)
    network = make_network(config.network, spec.num_actions, **network_options(config, spec))
    params = jax.device_put(load_params(str(run_dir / "checkpoints")))
    if network.is_recurrent:
        select_action = make_recurrent_select_action(network.unroll, network.initial_state, greedy=greedy)
    else:
        # Greedy: the argmax, or a Gaussian policy's mean action (clipped to the bounds like every action).
        select_action = make_select_action(network.apply, greedy=greedy,
                                           distribution=action_distribution(network.description))
    key, returns, frames = jax.random.PRNGKey(seed), [], []
    for episode in range(episodes):
        observation, _ = env.reset(seed=seed + episode)
        total, done, step = 0.0, False, 0
        # A fresh core state and zero previous action/reward per episode, carried from step to step
        # (empty for feed-forward networks).
        recurrent = ({"core_state": network.initial_state(1), "should_reset": np.zeros(1, bool),
                      "prev_action": np.zeros(1, np.int32), "prev_reward": np.zeros(1, np.float32)}
                     if network.is_recurrent else {})
        while not done:
            if video and episode == 0:
                frames.append(_render(env))
            choice = select_action(params, observation[None], key, step, **recurrent)
            if recurrent:
                recurrent["core_state"] = choice.next_core_state
            action = choice.action[0]
            observation, reward, terminated, truncated, _ = env.step(to_env_action(env.action_space, action))
            if recurrent:
                recurrent.update(prev_action=np.full(1, action, np.int32), prev_reward=np.full(1, reward, np.float32))
            total, done, step = total + float(reward), terminated or truncated, step + 1
        returns.append(total)
    env.close()
    if video and frames:
        VIDEO_WRITERS[Path(video).suffix.lower()](video, frames)
    return {"returns": returns, "mean": float(np.mean(returns)), "std": float(np.std(returns)),
            "episodes": episodes, "greedy": greedy, "env_id": config.env_id}


def _render(env):
    # NOTE: off-screen frames need no display or sound; without these SDL (pygame,
    # which draws classic-control frames) probes for both and prints errors.
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    frame = env.unwrapped.render() if env.unwrapped.render_mode == "rgb_array" else None
    if frame is None:
        env.unwrapped.render_mode = "rgb_array"
        frame = env.unwrapped.render()
    return np.asarray(frame, dtype=np.uint8)


FRAMES_PER_SECOND = 25


def _write_gif(path: str, frames) -> None:
    from PIL import Image

    images = [Image.fromarray(frame) for frame in frames]
    images[0].save(path, save_all=True, append_images=images[1:], duration=1000 // FRAMES_PER_SECOND, loop=0)


def _write_mp4(path: str, frames) -> None:
    import cv2

    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"mp4v"), FRAMES_PER_SECOND, (width, height))
    try:
        for frame in frames:
            writer.write(frame[..., ::-1])  # NOTE: gymnasium renders RGB, OpenCV writes BGR
    finally:
        writer.release()


VIDEO_WRITERS = {".gif": _write_gif, ".mp4": _write_mp4}


def _video_problem(path: str) -> str | None:
    """Why `path` cannot take the video, checked before any episode is played; None when it can."""
    suffix = Path(path).suffix.lower()
    if suffix not in VIDEO_WRITERS:
        return f"--video {path}: unknown file extension {suffix or '(none)'!r}; end the name in .gif or .mp4"
    if not Path(path).resolve().parent.is_dir():
        return f"--video {path}: directory {Path(path).resolve().parent} does not exist; create it or pick another path"
    return None


def run(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    if not (run_dir / "config.json").exists() or not (run_dir / "checkpoints").is_dir():
        print(f"vtrax eval: {run_dir} is not a run directory with checkpoints; pass one written by "
              "`vtrax train` (it holds config.json and checkpoints/)", file=sys.stderr)
        return 2
    if args.episodes < 1:
        print(f"vtrax eval: --episodes must be >= 1, got {args.episodes}", file=sys.stderr)
        return 2
    problem = _video_problem(args.video) if args.video else None
    if problem:
        print(f"vtrax eval: {problem}", file=sys.stderr)
        return 2
    from vtrax.learner import CheckpointMismatchError, latest_checkpoint

    try:
        newest = latest_checkpoint(str(run_dir / "checkpoints"))
    except CheckpointMismatchError as error:  # e.g. a run written by an older vtrax (checkpoint layout v1)
        print(f"vtrax eval: {error}", file=sys.stderr)
        return 1
    if newest is None:
        print(f"vtrax eval: {run_dir / 'checkpoints'} holds no complete checkpoint yet (one is written every "
              "checkpoint_period_s of training); wait for one or pass a run that has trained longer", file=sys.stderr)
        return 1
    result = evaluate(run_dir, episodes=args.episodes, greedy=not args.sampled, seed=args.seed, video=args.video)
    if args.json:
        print(json.dumps(result))
    else:
        mode = "greedy" if result["greedy"] else "sampled"
        print(f"{result['env_id']}: mean return {result['mean']:.1f} ± {result['std']:.1f} over "
              f"{result['episodes']} {mode} episodes" + (f"; video: {args.video}" if args.video else ""))
    return 0
