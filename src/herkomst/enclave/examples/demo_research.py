"""A sample research script for the enclave demo (``herkomst enclave run``).

It runs inside the sandbox on the staged full population (``$HERKOMST_ENCLAVE_DATA``) and
makes its outputs with the researcher API (``herkomst.enclave``) in ``$HERKOMST_ENCLAVE_OUTBOX``:

- ``staff_by_age``: staff by age class in 2021, a safe table;
- ``origin_by_region``: origin group by region in 2021, a risky table (small cells);
- ``staff_by_age_known_region``: the same as ``staff_by_age`` for the staff whose region of
  residence is known: safe on its own, but together with ``staff_by_age`` (once released) it
  gives the age classes of the few staff without a known region: a differencing pair.
"""

from __future__ import annotations

from herkomst import enclave as he

YEAR = 2021

data = he.dataset()
he.frequency(
    data,
    "age_class",
    name="staff_by_age",
    where=f"year = {YEAR}",
    description=f"staff by age class, {YEAR}",
)
he.crosstab(
    data,
    "national_origin_group",
    "region",
    name="origin_by_region",
    where=f"year = {YEAR}",
    description=f"staff by origin group and region of residence, {YEAR}",
)
he.frequency(
    data,
    "age_class",
    name="staff_by_age_known_region",
    where=f"year = {YEAR} AND region <> 'unknown'",
    description=f"staff with a known region of residence by age class, {YEAR}",
)
print("made 3 outputs")
