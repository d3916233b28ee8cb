# Sourced by the bench scripts that measure an experiment: `scratch_tree PATCH` makes a
# scratch worktree of HEAD with bench/PATCH applied, in $tree, removed when the script exits.
# It shares this checkout's .venv (ready first); with another pyproject.toml the scratch
# tree's bench/http.sh would reinstall that venv from the scratch tree, so that is refused.
scratch_tree() {
  ./dev install
  git diff --quiet HEAD -- pyproject.toml || {
    echo "bench: commit pyproject.toml first" >&2; exit 1; }
  tree=$(mktemp -d)
  git worktree add -q --detach "$tree" HEAD
  trap 'git worktree remove --force "$tree"' EXIT
  git -C "$tree" apply "$PWD/bench/$1"
  ln -s "$PWD/.venv" "$tree/.venv"
}
