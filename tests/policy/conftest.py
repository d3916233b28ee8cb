import pytest

from tests.support.policy_files import copy_policy


@pytest.fixture
def policy_copy(tmp_path):
    """A copy of the shipped policy folder for the test to break."""
    return copy_policy(tmp_path / "policy")
