"""The component config (``deploy/hdhooks.yml``) and the component state.

Owns: the typed, immutable model with every default applied (``model``), the
schema (``schema``), loading with environment overlays (``load``), the
per-instance cache of checked configs (``cache``) and the versioned record of
what a component last started (``state``). Every rule about a config is
checked here, when it loads, so nothing that lint accepts fails later for a
config reason.

Must not import: ``instance``, ``agent``, ``lint``, ``cli``, click, boto3.
"""
