"""Learner values of the Box-action presets, `--preset classic-continuous` and `--preset mujoco`.

Both train the Gaussian mlp policy (state-independent log-std, tanh MLPs of 64
units, as PPO's MuJoCo agents: Schulman et al. 2017, https://arxiv.org/abs/1707.06347,
and CleanRL's `ppo_continuous_action.py`) with IMPALA's V-trace learner. Where a
value differs from IMPALA's Atari preset, the reason is written beside it.
"""

from __future__ import annotations

from vtrax.learner.config import LearnerConfig


def classic_continuous_learner() -> LearnerConfig:
    """Pendulum-v1 / MountainCarContinuous-v0 learner values.

    - discount 0.95: Pendulum's reward is dense and its useful horizon short;
      rl-baselines3-zoo's tuned PPO and A2C for Pendulum-v1 use gamma 0.9
      (hyperparams/ppo.yml, a2c.yml); 0.95 keeps a little more horizon.
    - lambda_ 0.95: GAE's lambda in PPO's MuJoCo setting, here V-trace's c-bar scale.
    - Adam 1e-3, gradient-norm clip 0.5: PPO's MuJoCo optimiser clip; the larger step
      than PPO's 3e-4 because IMPALA takes one gradient step per batch, where
      PPO takes 10 epochs of minibatches.
    - entropy_cost 0: PPO's MuJoCo setting; the learnt log-std explores.
    - reward_scale 0.1: Pendulum's per-step reward lies in [-16.3, 0], so the values
      (up to -16.3 / (1 - 0.95) = -326) come down to the tens.
    - batch 32 x unroll 20, mean-reduced losses: as the cartpole preset.
    """
    return LearnerConfig(
        batch_size=32, unroll_length=20, discount=0.95, lambda_=0.95, optimizer="adam", learning_rate=1e-3,
        max_gradient_norm=0.5, entropy_cost=0.0, baseline_cost=0.5, reward_scale=0.1, reward_clipping="none",
        baseline="vtrace", loss_reduction="mean", publish_period_updates=1, checkpoint_period_s=30.0)


def mujoco_learner() -> LearnerConfig:
    """MuJoCo (HalfCheetah-v5, Hopper-v5, ...) learner values: PPO's MuJoCo ones where they carry over.

    - discount 0.99, lambda_ 0.95, Adam, gradient-norm clip 0.5, entropy 0: PPO's
      MuJoCo table (Schulman et al. 2017, Table 3; CleanRL's defaults).
    - learning rate 3e-4: PPO's, kept because MuJoCo rewards are larger and noisier.
    - reward_scale 0.1: per-step rewards of a few units; keeps the value targets small.
    """
    return LearnerConfig(
        batch_size=32, unroll_length=20, discount=0.99, lambda_=0.95, optimizer="adam", learning_rate=3e-4,
        max_gradient_norm=0.5, entropy_cost=0.0, baseline_cost=0.5, reward_scale=0.1, reward_clipping="none",
        baseline="vtrace", loss_reduction="mean", publish_period_updates=1, checkpoint_period_s=30.0)
