"""``hdhooks lint`` and ``hdhooks init``: a whole bundle checked before it ships.

Owns: the lint run (``run``), the cross-checks between appspec and config
(``cross``), telling a shim from a script with logic (``shims``) and the
scaffold of a new component (``scaffold``). Lint imports the runtime limits
it checks from the modules that enforce them; it keeps no copies.

Must not import: ``agent``, ``cli``, click, boto3; it reads ``instance`` only
for limits and rules, never to act.
"""
