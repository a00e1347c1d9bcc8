"""adload-gym against Gymnasium's checker and against the Swift simulator.

Needs the adload binary (ADLOAD_BIN or PATH); scripts/test sets ADLOAD_BIN to the build it
tested.
"""

import json
import os
import subprocess
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from adload_gym import AdLoadEnv, AdLoadVectorEnv, find_binary

ROOT = Path(__file__).resolve().parents[3]
ENV = str(ROOT / "env" / "default.json")
DAYS = 12
SEED = 3
USERS = 6


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    """`adload simulate --log` of a shipped bandit, greedily, per user in session order."""
    log = tmp_path_factory.mktemp("log") / "thompson.jsonl"
    subprocess.run(
        [find_binary(), "simulate", "--env", ENV, "--policy", str(ROOT / "policies" / "default-thompson.json"), "--exploit",
         "--users", str(USERS), "--days", str(DAYS), "--seed", str(SEED), "--threads", "1", "--log", str(log), "--quiet"],
        check=True, capture_output=True)
    sessions = defaultdict(list)
    with open(log) as file:
        for line in file:
            record = json.loads(line)
            sessions[record["sim"]["user"]].append(record)
    for user in sessions:
        sessions[user].sort(key=lambda record: record["sim"]["session"])
    return sessions


def chosen_action(env, record):
    plan = record["candidates"][record["chosen"]]
    return env.plans.index((plan["first"], plan["every"], plan["max"]))


def test_check_env_passes():
    env = AdLoadEnv(env=ENV, seed=SEED, days=DAYS)
    try:
        check_env(env, skip_render_check=True)
    finally:
        env.close()


def test_spaces_name_the_observation_and_the_plans():
    env = AdLoadEnv(env=ENV, seed=SEED, days=DAYS)
    try:
        observation, info = env.reset(seed=SEED)
        assert env.observation_space.shape == (len(env.observation_names),) and "bias" in env.observation_names
        assert env.observation_space.contains(observation)
        assert env.plans[env.no_ads_action] == (0, 0, 0)
        assert info["action_mask"].dtype == bool and info["action_mask"][env.no_ads_action]
        assert np.array_equal(env.action_masks(), info["action_mask"])
    finally:
        env.close()


def test_seeded_episodes_match_the_swift_simulator(logged):
    """The logged plans, replayed through the protocol, give every session's logged outcome exactly."""
    env = AdLoadEnv(env=ENV, seed=SEED, days=DAYS)
    try:
        checked = 0
        for user in range(USERS):
            observation, info = env.reset(seed=SEED) if user == 0 else env.reset()
            records = logged.get(user, [])
            if not records:
                continue
            assert info["user"] == user
            for index, record in enumerate(records):
                assert np.allclose(observation, np.array(record["features"], dtype=np.float32)), f"user {user} session {index}"
                action = chosen_action(env, record)
                assert env.action_masks()[action]
                observation, reward, terminated, truncated, info = env.step(action)
                outcome = record["outcome"]
                assert reward == outcome["revenue"]
                assert (info["items"], info["ads"], info["clicks"], info["negatives"]) == (
                    outcome["items"], outcome["ads"], outcome["clicks"], outcome["negatives"])
                assert terminated == outcome["churned"]
                last = index == len(records) - 1
                assert (terminated or truncated) == last, f"user {user}: the episode ends with its last logged session"
                checked += 1
            with pytest.raises(RuntimeError, match="call reset"):
                env.step(env.no_ads_action)
        assert checked > 20
    finally:
        env.close()


def test_the_vector_env_steps_users_side_by_side_as_the_single_env(logged):
    vec = AdLoadVectorEnv(env=ENV, num_envs=USERS, seed=SEED, days=DAYS)
    try:
        observations, info = vec.reset(seed=SEED)
        assert list(info["user"]) == list(range(USERS)) and observations.dtype == np.float32
        position = [0] * USERS
        finished = set()
        while len(finished) < USERS:
            actions = vec.no_ads_actions()
            for slot in range(USERS):
                if slot not in finished:
                    actions[slot] = chosen_action(vec, logged[slot][position[slot]])
            observations, rewards, terminated, truncated, info = vec.step(actions)
            for slot in range(USERS):
                if slot in finished:
                    continue
                record = logged[slot][position[slot]]
                assert rewards[slot] == record["outcome"]["revenue"] and info["items"][slot] == record["outcome"]["items"]
                position[slot] += 1
                if terminated[slot] or truncated[slot]:
                    assert position[slot] == len(logged[slot]) and info["final_user"][slot] == slot
                    assert info["_final_obs"][slot] and info["final_obs"][slot].shape == vec.single_observation_space.shape
                    finished.add(slot)
        assert vec.action_masks().shape == (USERS, len(vec.plans))
    finally:
        vec.close()


def test_a_forbidden_action_shows_no_ads_or_raises():
    env = AdLoadEnv(env=ENV, seed=SEED, days=DAYS)
    strict = AdLoadEnv(env=ENV, seed=SEED, days=DAYS, invalid_action="error")
    try:
        for candidate in (env, strict):
            candidate.reset(seed=SEED)
        forbidden = [a for a, allowed in enumerate(env.action_masks()) if not allowed]
        if not forbidden:
            pytest.skip("the first session allows every plan")
        _, reward, _, _, info = env.step(forbidden[0])
        assert info["replaced"] and info["action"] == env.no_ads_action and info["ads"] == 0 and reward == 0
        with pytest.raises(ValueError, match="not allowed in this session"):
            strict.step(forbidden[0])
    finally:
        env.close()
        strict.close()


def test_a_missing_binary_or_environment_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="ADLOAD_BIN"):
        AdLoadEnv(env=ENV, binary=str(tmp_path / "no-such-adload"))
    with pytest.raises(RuntimeError, match="no-such-env.json"):
        AdLoadEnv(env=str(tmp_path / "no-such-env.json"))
