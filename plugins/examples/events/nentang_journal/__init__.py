"""journal — a NenTang example plugin: a commune's journal of the domain events that happen there.

It shows the events extension point: the enable hook *emits* an event (``journal.opened``) in the
enabling transaction, and ``nentang_event_received`` writes one journal line per event —
idempotently, because delivery is at least once. See ``README.md``.
"""
