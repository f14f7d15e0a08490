"""``ipreg monitor``: an office learns within minutes when someone else acts in its name.

Modules, one job each:

- :mod:`~registry.monitor.events`: the registry's events per transaction, with sender and decoded call;
- :mod:`~registry.monitor.rules`: what is the office's own and what is a finding (alert or notice);
- :mod:`~registry.monitor.findings`: the finding's JSON line and the commands it recommends;
- :mod:`~registry.monitor.journal`: the office tooling's record of the calls it sends (before sending);
- :mod:`~registry.monitor.keys`: the addresses of the keys an office holds here;
- :mod:`~registry.monitor.follow`: cursor, confirmations, reorganisations, delivery exactly once;
- :mod:`~registry.monitor.webhook`: posting findings through the outbound policy, HMAC-signed;
- :mod:`~registry.monitor.loop`: the background loop of ``ipreg serve``.

Usage::

    monitor = Monitor(chain, store, settings, Watch("EP"), emit=print)
    result = monitor.pass_once()          # resumable; result.delivered: the new findings' JSON lines
"""

from registry.monitor.follow import Monitor, PassResult, follow
from registry.monitor.rules import Watch

__all__ = ["Monitor", "PassResult", "Watch", "follow"]
