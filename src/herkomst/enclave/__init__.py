"""The secure research environment (deliberation 23/224, phase 2).

Researchers' scripts import the output API from here::

    from herkomst import enclave as he
    data = he.dataset()                      # $HERKOMST_ENCLAVE_DATA/population.parquet
    he.crosstab(data, "age_class", "sex", name="age_by_sex", where="year = 2021")
    he.percentages(data, "national_origin_group", "sex", margin="col", name="origin_pct")
    he.magnitude(data, "registration_year", by="region", stat="mean", name="reg_mean")
    he.regression(data, "y", ["x1", "x2"], name="model1")

Every output lands in ``$HERKOMST_ENCLAVE_OUTBOX/<name>/`` and is checked
(:func:`herkomst.enclave.checking.check_output`) before a supervisor may release it.
"""

from __future__ import annotations

from .api import (
    crosstab,
    dataset,
    figure,
    free_file,
    frequency,
    magnitude,
    percentages,
    quantiles,
    regression,
)
from .outputs import OutputKind, OutputRecord, read_output

__all__ = [
    "OutputKind",
    "OutputRecord",
    "crosstab",
    "dataset",
    "figure",
    "free_file",
    "frequency",
    "magnitude",
    "percentages",
    "quantiles",
    "read_output",
    "regression",
]
