"""The notebook's checks: one for each part of the assignment.

    from vaekit import checks
    checks.check_log_prior(log_prior, device)

A check calls the student's code on fixed inputs and compares what it gives
with what is right; a mistake stops it with an AssertionError that says what
was expected, what was found and what the mistake most likely is. Each part
is one Part record (part.py) and lives in the module of its section:

    densities.py   helpers.py: the densities, the samplers, log_mean_exp
    model.py       the data, log_prior, the networks, the likelihood, the joint, log_q
    training.py    the ELBO and loss, train, the training run
    figures.py     the four visualizations of section 5
    evaluation.py  section 6 (no points)

with what they share in part.py (the record, the inputs, the notebook's
check), compare.py (comparisons and diagnoses) and networks.py (the student's
networks found by shape). The expected values are those the solution
computed on the public inputs (checks_expected.pt), or, where the result is
random or uses the trained networks, what the student's own functions give
once their checks have passed. No check holds a formula that a TODO asks
for, with one exception by design: check_elbo composes the ELBO, joint
density minus log q at the codes elbo drew, from the student's own
joint_log_density and log_q, to compare elbo's value and gradients with them
(and computes the KL term in closed form, which no TODO asks for, to name an
ELBO written with it).

In IPython (Jupyter) a failing check shows the student's line and the
message, not the checks' own frames (tracebacks.py).
"""
from vaekit.checks.densities import (BERNOULLI_LOG_DENSITY, DIAG_GAUSSIAN_LOG_DENSITY, LIKELIHOOD_TABLE,
                                     LOG_MEAN_EXP, SAMPLE_BERNOULLI, SAMPLE_DIAG_GAUSSIAN, STD_NORMAL_LOG_DENSITY,
                                     check_bernoulli_log_density, check_diag_gaussian_log_density,
                                     check_likelihood_table, check_log_mean_exp, check_sample_bernoulli,
                                     check_sample_diag_gaussian, check_std_normal_log_density)
from vaekit.checks.evaluation import check_bounds, check_posterior
from vaekit.checks.figures import (LATTICE, PRIOR_SAMPLES, RECONSTRUCTIONS, SCATTER, check_figures, check_lattice,
                                   check_prior_samples, check_reconstructions, check_scatter)
from vaekit.checks.model import (DECODER, ENCODER, JOINT_LOG_DENSITY, LOG_LIKELIHOOD, LOG_PRIOR, LOG_Q,
                                 check_data, check_decoder, check_encoder, check_joint_log_density,
                                 check_log_likelihood, check_log_prior, check_log_q)
from vaekit.checks.training import ELBO_AND_LOSS, TRAIN, check_elbo, check_train, check_training_run
from vaekit.checks.tracebacks import hide_check_frames

# Every part, by name, in the order of the notebook's check cells.
PARTS = {part.name: part for part in (
    BERNOULLI_LOG_DENSITY, STD_NORMAL_LOG_DENSITY, LOG_PRIOR, DECODER, LOG_LIKELIHOOD, JOINT_LOG_DENSITY,
    DIAG_GAUSSIAN_LOG_DENSITY, SAMPLE_DIAG_GAUSSIAN, ENCODER, LOG_Q, ELBO_AND_LOSS, TRAIN, SCATTER,
    SAMPLE_BERNOULLI, PRIOR_SAMPLES, RECONSTRUCTIONS, LATTICE, LIKELIHOOD_TABLE, LOG_MEAN_EXP)}

__all__ = ["PARTS", "check_bernoulli_log_density", "check_bounds", "check_data", "check_decoder",
           "check_diag_gaussian_log_density", "check_elbo", "check_encoder", "check_figures",
           "check_joint_log_density", "check_lattice", "check_likelihood_table", "check_log_likelihood",
           "check_log_mean_exp", "check_log_prior", "check_log_q", "check_posterior", "check_prior_samples",
           "check_reconstructions", "check_sample_bernoulli", "check_sample_diag_gaussian", "check_scatter",
           "check_std_normal_log_density", "check_train", "check_training_run"]

hide_check_frames()
