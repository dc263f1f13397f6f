"""A typed Python client for mockle: the control API and the LiveEngage flows a test needs.

``AsyncMockleClient`` (aiohttp) is the real client; ``MockleClient`` is a thin synchronous
wrapper that runs it on a private event loop in a thread. Both are bound to one account (each
test its own account = isolation) and accept another one per call where that makes sense.

Waiting never sleeps: :meth:`AsyncMockleClient.wait_for_event` long-polls
``/_mockle/conversations/{id}/events``, :meth:`AsyncMockleClient.wait_for_requests` long-polls
the journal and :meth:`AsyncMockleClient.webhook_deliveries` the delivery log; the server
answers the moment the awaited thing happens.

An agent can be played two ways: through the control API (``client.agent``: join, say, close)
or over the real agent socket (``client.agent_socket("bot")``: a Login Service login and the
agent UMS WebSocket, as an SDK bot does: rings, QueryMessages, PublishEvent, transfers).

Modules: ``_base`` (errors, records, helpers), ``_agent`` (the agent socket), ``_async`` (the
client), ``_sync`` (the wrapper).
"""

from mockle.client._agent import AgentRequestError, AgentSocketClosed, AsyncAgentSocket
from mockle.client._async import AsyncAgent, AsyncFaults, AsyncMockleClient
from mockle.client._base import (
    DEFAULT_ACCOUNT,
    AppCredentials,
    Consumer,
    Event,
    MockleClientError,
    Predicate,
    WaitTimeout,
    text_event,
)
from mockle.client._sync import Agent, AgentSocket, Faults, MockleClient

__all__ = [
    "DEFAULT_ACCOUNT",
    "Agent",
    "AgentRequestError",
    "AgentSocket",
    "AgentSocketClosed",
    "AppCredentials",
    "AsyncAgent",
    "AsyncAgentSocket",
    "AsyncFaults",
    "AsyncMockleClient",
    "Consumer",
    "Event",
    "Faults",
    "MockleClient",
    "MockleClientError",
    "Predicate",
    "WaitTimeout",
    "text_event",
]
