"""The use-cases of gridmap, over any store: what the HTTP routes and the CLI commands call.

Routes parse, authorize and answer; commands parse and print; both call these functions, so a
planner's edit or a resident's lookup does the same thing whichever face it comes through.

- :mod:`~gridmap.service.grids`: :class:`GridLocator`, every point-to-grid question.
- :mod:`~gridmap.service.lookup`: the lookup of a store's grids in force, with staff boards.
- :mod:`~gridmap.service.search`: search by name, address or pinyin initials.
- :mod:`~gridmap.service.plans`: partition, coverage report, diff, export over any store.
- :mod:`~gridmap.service.edit`: a planner's edit of a draft from a named base revision.
- :mod:`~gridmap.service.publish`: putting plans in force, moving open incidents with them.
- :mod:`~gridmap.service.staff`: grid staff, changed row by row.
- :mod:`~gridmap.service.users`: users who sign in.

Modules are imported by name (``from gridmap.service.lookup import Locator``); this package
imports none of them, so importing one costs only what it needs.
"""
