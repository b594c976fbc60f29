"""Reward adapters for RL trainers: TRL ``reward_funcs`` (:mod:`grm.adapters.trl`) and verl's
``compute_score`` (:mod:`grm.adapters.verl`). OpenRLHF uses the HTTP endpoint of
:mod:`grm.server` (``POST /get_reward``)."""
