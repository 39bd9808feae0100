"""scikit-learn's own estimator checks, once per criterion."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from sk_imbaloss import ImbalancedNeuralClassifier

EXPECTED_FAILED_CHECKS = {
    "check_no_attributes_set_in_init": (
        "skorch's NeuralNet.__init__ sets history_, initialized_ and virtual_params_ "
        "by design; the estimator inherits it."
    ),
    "check_sample_weight_equivalence_on_dense_data": (
        "mini-batch training: weighting a row by 2 is not the same as repeating it, "
        "because a repeated row also changes the batch composition and the number of "
        "optimizer steps."
    ),
}
EXPECTED_FAILED_CHECKS["check_sample_weight_equivalence_on_sparse_data"] = (
    EXPECTED_FAILED_CHECKS["check_sample_weight_equivalence_on_dense_data"])


def _expected_failed_checks(estimator):
    return EXPECTED_FAILED_CHECKS


@parametrize_with_checks(
    [
        ImbalancedNeuralClassifier(criterion=criterion, max_epochs=20)
        for criterion in ("adaptive", "focal", "margin", "ce")
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
