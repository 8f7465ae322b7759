"""The shipment registry: who may see a shipment (``access``), the limits it is judged by
(``limits``), and every read and write of the registration itself: PostgreSQL
(``postgres``), its copy on the compacted topic (``record``, ``topic``) and the device
bindings ingest keeps (``bindings``).

``access``, ``limits`` and ``record`` are pure and import no client library; the others
are the adapters.
"""
