"""Validity of NI 65 and its alternatives as proxies for 'highly resistant' families.

Child-level accuracy against synthetic truth (:mod:`.child_level`), multivariable risk models
(:mod:`.risk_model`), risk-standardised LA indicators (:mod:`.standardised`), a latent-class
composite (:mod:`.composite`), LA-level validity and funnel plots (:mod:`.la_level`,
:mod:`.funnel`) and the counting-rule / mobility bias sweep (:mod:`.bias_sweep`). The
statistics themselves live in :mod:`.metrics`.
"""
