"""The symbol agent inside an sb3-contrib ``MaskablePPO`` policy, and back.

SB3's ``MaskableActorCriticPolicy`` is built so that its networks have exactly the symbol agent's
shapes: :class:`EncoderExtractor` (a ``BaseFeaturesExtractor`` holding a :class:`FeatureEncoder`) is
the shared features extractor, ``net_arch=dict(pi=actor_hidden, vf=critic_hidden)`` with ReLU gives
the heads' hidden layers, ``action_net`` and ``value_net`` their output layers. The weights then map
one to one (:data:`AGENT_TO_POLICY` prefixes):

=====================  =========================================
SymbolAgent            SB3 policy
=====================  =========================================
``encoder.*``          ``features_extractor.encoder.*``
``actor.<i>.*``        ``mlp_extractor.policy_net.<i>.*``
``actor.output.*``     ``action_net.*``
``critic.<i>.*``       ``mlp_extractor.value_net.<i>.*``
``critic.output.*``    ``value_net.*``
=====================  =========================================

SB3's own orthogonal initialization is switched off (``ortho_init=False``, it would also overwrite
the encoder's Xavier init); the policy starts from a freshly built :class:`SymbolAgent`'s weights
(:func:`copy_agent_into_policy`), so both start from the initialization ``docs/models.md`` describes.
"""
from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

from engine.errors import InvalidParameterError
from models.symbol_agent.encoder import EncoderConfig, FeatureEncoder
from models.symbol_agent.network import SymbolAgent, SymbolAgentConfig

AGENT_TO_POLICY: tuple[tuple[str, str], ...] = (
    ("encoder.", "features_extractor.encoder."),
    ("actor.output.", "action_net."),
    ("actor.", "mlp_extractor.policy_net."),
    ("critic.output.", "value_net."),
    ("critic.", "mlp_extractor.value_net."),
)
"""``(SymbolAgent prefix, SB3 policy prefix)`` pairs, the more specific prefix first."""


class EncoderExtractor(BaseFeaturesExtractor):
    """SB3 features extractor: the symbol agent's :class:`FeatureEncoder` over the dict observation.

    Args:
        observation_space: The environment's ``Dict`` space (checked against ``encoder_config``).
        encoder_config: The encoder's sizes, as a dict of :class:`EncoderConfig` fields (SB3 passes
            ``features_extractor_kwargs`` as keywords).
    """

    def __init__(self, observation_space: spaces.Dict, encoder_config: dict[str, Any]) -> None:
        config = EncoderConfig(**encoder_config)
        for name, shape in config.block_shapes().items():
            space = observation_space.spaces.get(name) if isinstance(observation_space, spaces.Dict) else None
            if space is None or tuple(space.shape) != shape:
                raise InvalidParameterError(
                    f"the environment's observation block {name!r} is {space}, the encoder reads shape {shape}; "
                    "train on the engine's symbol-agent observation (engine.observation.ObservationBuilder)")
        super().__init__(observation_space, features_dim=config.output_dim)
        self.encoder = FeatureEncoder(config)

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.encoder(observations)


def policy_kwargs(config: SymbolAgentConfig) -> dict[str, Any]:
    """``policy_kwargs`` for ``MaskablePPO("MultiInputPolicy", ...)`` giving the agent's exact shapes."""
    return {
        "features_extractor_class": EncoderExtractor,
        "features_extractor_kwargs": {"encoder_config": encoder_config_dict(config.encoder)},
        "share_features_extractor": True,
        "net_arch": {"pi": list(config.actor_hidden), "vf": list(config.critic_hidden)},
        "activation_fn": nn.ReLU,
        "ortho_init": False,
    }


def encoder_config_dict(config: EncoderConfig) -> dict[str, Any]:
    """An :class:`EncoderConfig` as plain keywords."""
    return {name: getattr(config, name) for name in EncoderConfig.__dataclass_fields__}


def policy_key(agent_key: str) -> str:
    """The SB3 policy's state-dict key of a :class:`SymbolAgent` key (see :data:`AGENT_TO_POLICY`)."""
    for agent_prefix, policy_prefix in AGENT_TO_POLICY:
        if agent_key.startswith(agent_prefix):
            return policy_prefix + agent_key[len(agent_prefix):]
    raise InvalidParameterError(f"SymbolAgent key {agent_key!r} has no place in the SB3 policy")


@torch.no_grad()
def copy_agent_into_policy(agent: SymbolAgent, policy: nn.Module) -> None:
    """Overwrite the SB3 policy's networks with ``agent``'s weights."""
    _copy(agent.state_dict(), policy.state_dict(), {k: policy_key(k) for k in agent.state_dict()})


@torch.no_grad()
def agent_from_policy(policy: nn.Module, config: SymbolAgentConfig) -> SymbolAgent:
    """A :class:`SymbolAgent` (on the CPU, eval mode) holding a copy of the SB3 policy's weights."""
    agent = SymbolAgent(config)
    target = agent.state_dict()
    _copy(policy.state_dict(), target, {policy_key(k): k for k in target})
    return agent.eval()


def _copy(source: dict[str, torch.Tensor], target: dict[str, torch.Tensor], key_map: dict[str, str]) -> None:
    for source_key, target_key in key_map.items():
        if source_key not in source or target_key not in target:
            missing = source_key if source_key not in source else target_key
            raise InvalidParameterError(
                f"tensor {missing!r} is missing; the SB3 policy was not built with policy_kwargs(config) "
                "for this agent config")
        value, slot = source[source_key], target[target_key]
        if value.shape != slot.shape:
            raise InvalidParameterError(
                f"tensor {source_key!r} has shape {tuple(value.shape)}, {target_key!r} {tuple(slot.shape)}; "
                "build the policy with policy_kwargs(config) for the same agent config")
        slot.copy_(value.to(slot.device))
