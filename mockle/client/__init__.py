"""A typed Python client for mockle: the control API and the LiveEngage flows a test needs.

``AsyncMockleClient`` (aiohttp) is the real client; ``MockleClient`` is a thin synchronous
wrapper that runs it on a private event loop in a thread. Both are bound to one account (each
test its own account = isolation) and accept another one per call where that makes sense.

Waiting never sleeps: :meth:`AsyncMockleClient.wait_for_event` long-polls
``/_mockle/conversations/{id}/events``, :meth:`AsyncMockleClient.wait_for_requests` long-polls
the journal and :meth:`AsyncMockleClient.webhook_deliveries` the delivery log; the server
answers the moment the awaited thing happens.

Modules: ``_base`` (errors, records, helpers), ``_async`` (the client), ``_sync`` (the wrapper).
"""

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
from mockle.client._sync import Agent, Faults, MockleClient

__all__ = [
    "DEFAULT_ACCOUNT",
    "Agent",
    "AppCredentials",
    "AsyncAgent",
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
