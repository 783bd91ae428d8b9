"""Run the notebook's own definition cells outside Jupyter.

The benchmark and the tests time and test the code that the learner runs, not
a copy of it: they execute the cells that define the data, the networks, the
densities, the ELBO and ``train``, picked by cell id, in one namespace.
"""
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "A3_VAE.ipynb"
# The cells that set up and define everything up to training, in notebook order.
DEFINITION_CELLS = ("setup", "data", "log-prior", "decoder", "log-likelihood", "joint",
                    "encoder", "log-q", "elbo", "train-def")


def notebook_namespace(notebook=NOTEBOOK, cell_ids=DEFINITION_CELLS):
    """Execute the code cells with the given ids; returns their global namespace.

    raises KeyError naming any id the notebook does not have
    """
    cells = {c["id"]: c for c in json.loads(Path(notebook).read_text())["cells"]
             if c["cell_type"] == "code"}
    missing = [i for i in cell_ids if i not in cells]
    if missing:
        raise KeyError(f"{notebook} has no code cell with id {', '.join(missing)}")
    namespace = {"__name__": "notebook"}
    for cell_id in cell_ids:
        source = "".join(cells[cell_id]["source"])
        exec(compile(source, f"{Path(notebook).name}:{cell_id}", "exec"), namespace)
    return namespace
