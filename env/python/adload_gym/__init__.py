"""AdLoad's environment model as Gymnasium environments, over `adload env --stdio`.

`AdLoadEnv` is one user at a time (a `gymnasium.Env`); `AdLoadVectorEnv` steps many users
in one adload process (a `gymnasium.vector.VectorEnv` with same-step autoreset).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space

from ._protocol import Connection, find_binary

__all__ = ["AdLoadEnv", "AdLoadVectorEnv", "find_binary"]

_OUTCOME = ("items", "ads", "clicks", "negatives", "revenue", "dwell", "churned", "gap_days", "session", "replaced", "action")


def _scalar(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


class AdLoadEnv(gym.Env):
    """One user's feed sessions as an episode: a step decides one session's ad plan.

    Observation: the context the service sees (`observation_names`), float32. Action: an
    index into `plans` ((first ad position, spacing, most ads) per action); `action_masks()`
    gives the valid ones. Reward: the session's realized revenue. `terminated` when the user
    churns, `truncated` at the horizon. A seeded reset starts user 0 of that seed's
    population; each later reset starts the next user.
    """

    metadata = {"render_modes": []}

    def __init__(self, env: str = "env/default.json", seed: int = 1, days: int = 120, features: str = "standard",
                 invalid_action: str = "no-ads", binary: str | None = None) -> None:
        super().__init__()
        self._connection = Connection(env, 1, seed, days, features, invalid_action, binary)
        hello = self._connection.hello
        self.observation_names: list[str] = list(hello["observation_names"])
        self.plans: list[tuple[int, int, int]] = [(a["first"], a["every"], a["max"]) for a in hello["actions"]]
        self.no_ads_action: int = int(hello["no_ads_action"])
        self.observation_space = spaces.Box(-np.inf, np.inf, shape=(len(self.observation_names),), dtype=np.float32)
        self.action_space = spaces.Discrete(len(self.plans))
        self._observation = np.zeros(len(self.observation_names), dtype=np.float32)
        self._mask = np.zeros(len(self.plans), dtype=bool)
        self._user = -1
        # After a step that ends an episode, the server's slot has already started the next
        # user: the next unseeded reset hands that user out instead of skipping it.
        self._started: tuple[np.ndarray, np.ndarray, int] | None = None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is None and self._started is not None:
            observation, mask, user = self._started
        else:
            response = self._connection.request({"op": "reset", "seed": seed} if seed is not None else {"op": "reset"})
            observations, masks, users = self._connection.observations(response)
            observation, mask, user = observations[0], masks[0], int(users[0])
        self._started = None
        self._observation, self._mask, self._user = observation, mask, user
        return observation.copy(), {"action_mask": mask.copy(), "user": user}

    def step(self, action):
        if self._started is not None:
            raise RuntimeError("the episode has ended: call reset() before stepping again")
        response = self._connection.request({"op": "step", "actions": [int(action)]})
        observations, masks, users = self._connection.observations(response)
        columns = self._connection.step_columns(response)
        terminated, truncated = bool(columns["terminated"][0]), bool(columns["truncated"][0])
        info: dict[str, Any] = {name: _scalar(columns[name][0]) for name in _OUTCOME}
        info["user"] = self._user
        if terminated or truncated:
            # No next session: the observation stays the last session's.
            self._started = (observations[0], masks[0], int(users[0]))
            info["action_mask"] = np.zeros_like(self._mask)
        else:
            self._observation, self._mask = observations[0], masks[0]
            info["action_mask"] = self._mask.copy()
        return self._observation.copy(), float(columns["rewards"][0]), terminated, truncated, info

    def action_masks(self) -> np.ndarray:
        """The valid actions of the current session (what sb3-contrib's MaskablePPO reads)."""
        return self._mask.copy()

    def close(self) -> None:
        self._connection.close()
        super().close()


class AdLoadVectorEnv(gym.vector.VectorEnv):
    """`num_envs` users stepped at once by one adload process (`--batch`).

    A slot whose user churns or reaches the horizon starts the next user in the same step
    (same-step autoreset): its returned observation is the new user's first,
    `info["final_obs"]` (with the mask `info["_final_obs"]`) holds the finished episode's last
    observation, and `info["final_user"]` names its user (-1 elsewhere).
    """

    metadata = {"render_modes": [], "autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}

    def __init__(self, env: str = "env/default.json", num_envs: int = 16, seed: int = 1, days: int = 120,
                 features: str = "standard", invalid_action: str = "no-ads", binary: str | None = None) -> None:
        self._connection = Connection(env, num_envs, seed, days, features, invalid_action, binary)
        hello = self._connection.hello
        self.num_envs = num_envs
        self.observation_names: list[str] = list(hello["observation_names"])
        self.plans: list[tuple[int, int, int]] = [(a["first"], a["every"], a["max"]) for a in hello["actions"]]
        self.no_ads_action: int = int(hello["no_ads_action"])
        self.single_observation_space = spaces.Box(-np.inf, np.inf, shape=(len(self.observation_names),), dtype=np.float32)
        self.single_action_space = spaces.Discrete(len(self.plans))
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._masks = np.zeros((num_envs, len(self.plans)), dtype=bool)
        self._observations = np.zeros((num_envs, len(self.observation_names)), dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        response = self._connection.request({"op": "reset", "seed": seed} if seed is not None else {"op": "reset"})
        observations, masks, users = self._connection.observations(response)
        self._masks = masks
        self._observations = observations
        return observations.copy(), {"action_mask": masks.copy(), "user": users}

    def step(self, actions):
        response = self._connection.request({"op": "step", "actions": np.asarray(actions, dtype=np.int64).tolist()})
        observations, masks, users = self._connection.observations(response)
        columns = self._connection.step_columns(response)
        done = columns["terminated"] | columns["truncated"]
        info: dict[str, Any] = {name: columns[name] for name in _OUTCOME}
        info["user"] = columns["user"]
        info["final_user"] = np.where(done, columns["user"], -1)
        info["action_mask"] = masks.copy()
        if done.any():
            # Same-step autoreset, as Gymnasium's vector envs report it: a finished slot's
            # final observation is its last session's (there is no next session).
            final = np.empty(self.num_envs, dtype=object)
            for slot in np.flatnonzero(done):
                final[slot] = self._observations[slot].copy()
            info["final_obs"], info["_final_obs"] = final, done.copy()
        self._masks = masks
        self._observations = observations
        return observations.copy(), columns["rewards"], columns["terminated"], columns["truncated"], info

    def action_masks(self) -> np.ndarray:
        """The valid actions of each slot's current session (num_envs x K)."""
        return self._masks.copy()

    def no_ads_actions(self) -> np.ndarray:
        """The no-ads action for every slot (always valid)."""
        return np.full(self.num_envs, self.no_ads_action, dtype=np.int64)

    def close(self, **kwargs: Any) -> None:
        self._connection.close()
