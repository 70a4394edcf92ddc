"""A network too big for the memory that would train it is refused by the shape pass, naming the node,
what it needs and what there is; the limit is injected here so the tests do not depend on this
machine's memory."""

from __future__ import annotations

import dataclasses

import pytest

import graph
from graph import memory
from graph.blocks import group_into_block
from graph.memory import (
    MemoryLimit,
    TooBigError,
    available_system_memory,
    budget_for,
    check_fits,
    format_bytes,
    memory_limit,
    memory_limit_override,
    parse_size,
)
from graph.shapes import analyze, require_valid
from graph.templates import make_template

GiB = 2**30


def huge_project(units: int = 1_000_000) -> graph.Project:
    """10^12 parameters: a million inputs into a million units."""
    b = graph.NetworkBuilder("main")
    x = b.input((1_000_000,), name="features")
    h = b.chain(x, ("Dense", {"units": units}), ("Dense", {"units": 10}))
    b.output(h)
    return graph.Project("huge", [b.network])


def image_project(batch_size: int) -> graph.Project:
    """Few parameters, big activations: what a batch costs is what matters."""
    b = graph.NetworkBuilder("main")
    x = b.input((3, 256, 256), name="image")
    h = b.chain(x, ("Conv2d", {"filters": 64, "kernel_size": 3, "padding": 1}), "ReLU", "GlobalAvgPool",
                ("Dense", {"units": 2}))
    b.output(h)
    return graph.Project("images", [b.network], settings={"training": {"batch_size": batch_size}})


def test_a_trillion_parameters_is_a_problem_on_the_node_that_asks_for_them():
    project = huge_project()
    net = project.main
    with memory_limit_override(64 * GiB, "this machine has {size} of memory available"):
        analysis = analyze(net)
    dense = net.find("dense_1")
    [problem] = [p for p in analysis.problems if p.kind == "memory"]
    assert problem.node_id == dense.id
    assert problem.message.startswith("Dense 'dense_1' needs 14.6 TiB to train")
    assert "1,000,001,000,000 parameters" in problem.message
    assert "this machine has 64.0 GiB of memory available" in problem.message
    assert "make it smaller" in problem.message
    assert analysis.too_big and not analysis.ok
    # the canvas paints a badge from the node's error; the summary lists it too
    assert analysis.nodes[dense.id].error == problem.message
    assert analysis.node_errors(dense.id) == [problem.message]
    assert analysis.nodes[dense.id].output is not None  # the shape itself is fine


def test_compile_and_export_refuse_it_with_the_message_instead_of_allocating():
    project = huge_project()
    with memory_limit_override(64 * GiB), pytest.raises(graph.GraphError, match="dense_1' needs 14.6 TiB"):
        require_valid(project.main)


def test_a_network_that_fits_has_no_memory_problem_and_its_estimate_is_what_training_holds():
    project = make_template("mlp-digits")
    with memory_limit_override(1 * GiB):
        analysis = analyze(project.main)
    assert analysis.ok
    budget = analysis.budget
    needs = {n.id: analysis.nodes[n.id].memory for n in project.main.nodes}
    dense = project.main.find("dense_1")
    params = analysis.nodes[dense.id].cost.params
    # adam (the default): weight, gradient and two moments of float32
    assert budget.bytes_per_param == 16
    assert needs[dense.id].need(budget) == params * 16 + budget.batch_size * 4 * dense.params["units"]
    output = project.main.outputs()[0]
    assert needs[output.id].per_sample == 0  # an Output holds no memory of its own


def test_many_small_nodes_over_the_limit_name_the_biggest_and_the_total():
    project = make_template("cnn-digits")
    net = project.main
    with memory_limit_override(1 * GiB):
        analysis = analyze(net)
    budget = analysis.budget
    needs = {node_id: info.memory.need(budget) for node_id, info in analysis.nodes.items()}
    biggest = max(needs, key=lambda k: needs[k])
    limit = (max(needs.values()) + sum(needs.values())) // 2  # each node fits, all together do not
    with memory_limit_override(limit):
        analysis = analyze(net)
    [problem] = [p for p in analysis.problems if p.kind == "memory"]
    assert problem.node_id == biggest
    assert problem.message.startswith(f"The network needs {format_bytes(sum(needs.values()))} to train")
    assert f"its biggest part is {net.node(biggest).label()}" in problem.message


def test_the_projects_batch_size_decides_and_a_settings_change_reaches_the_cached_analysis():
    project = image_project(batch_size=2)
    net = project.main
    with memory_limit_override(1 * GiB):
        assert analyze(net).ok
        project.set_setting("training", {"batch_size": 512})  # 512 × 64 × 256 × 256 × 4 bytes ≈ 8 GiB
        analysis = analyze(net)
    [problem] = analysis.problems
    assert problem.kind == "memory" and problem.node_id == net.find("conv2d_1").id
    assert "for a batch of 512" in problem.message and "lower the batch size (now 512)" in problem.message


def test_the_optimizer_changes_the_bytes_per_parameter():
    project = image_project(batch_size=2)
    for optimizer, momentum, expected in (("adam", 0.9, 16), ("sgd", 0.9, 12), ("sgd", 0.0, 8), ("rmsprop", 0, 12)):
        project.settings["training"] = {"optimizer": optimizer, "momentum": momentum}
        assert budget_for(project.main).bytes_per_param == expected, optimizer


def test_the_train_command_options_override_the_project(monkeypatch):
    project = image_project(batch_size=2)
    with memory_limit_override(1 * GiB):
        check_fits(project.main)
        with pytest.raises(TooBigError, match="for a batch of 4096"):
            check_fits(project.main, batch_size=4096)


def test_cuda_uses_the_gpus_memory(monkeypatch):
    gpu = MemoryLimit(8 * GiB, "the GPU 'Test GPU' has {size} of memory")
    monkeypatch.setattr(memory, "_cuda_limit", lambda: gpu)
    monkeypatch.delenv(memory.ENV_VAR, raising=False)
    project = huge_project()
    project.settings["training"] = {"device": "cuda"}
    analysis = analyze(project.main)
    assert "the GPU 'Test GPU' has 8.0 GiB of memory" in analysis.problems[-1].message
    # no GPU there: the machine's memory is the limit (the engine then says CUDA is missing)
    monkeypatch.setattr(memory, "_cuda_limit", lambda: None)
    assert memory_limit("cuda") == memory_limit("cpu")


def test_the_environment_variable_sets_the_limit(monkeypatch):
    monkeypatch.setenv(memory.ENV_VAR, "512M")
    limit = memory_limit()
    assert limit is not None and limit.bytes == 512 * 2**20
    assert limit.describe() == f"the memory limit in {memory.ENV_VAR} is 512.0 MiB"
    monkeypatch.setenv(memory.ENV_VAR, "lots")  # ignored (logged), the machine's memory counts
    assert memory_limit() == memory._system_limit()


@pytest.mark.parametrize("text,expected", [("1024", 1024), ("8G", 8 * GiB), ("1.5k", 1536), ("2 GiB", 2 * GiB),
                                           ("1T", 2**40)])
def test_parse_size(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "-1G", "8X", "G"])
def test_parse_size_refuses_what_is_not_a_size(text):
    with pytest.raises(ValueError):
        parse_size(text)


def test_the_machines_memory_is_read_and_falls_back_without_proc_meminfo(monkeypatch):
    found = available_system_memory()
    assert found is not None and found > 0

    def no_file(*args, **kwargs):
        raise FileNotFoundError("/proc/meminfo")

    monkeypatch.setattr(memory, "open", no_file, raising=False)
    fallback = available_system_memory()
    assert fallback is not None and fallback > 0  # os.sysconf answers on every POSIX system
    monkeypatch.setattr(memory.os, "sysconf", lambda name: (_ for _ in ()).throw(OSError("no sysconf")))
    monkeypatch.setattr(memory.sys, "platform", "plan9")
    assert available_system_memory() is None
    memory._system_cache = None
    monkeypatch.delenv(memory.ENV_VAR, raising=False)
    try:
        assert memory_limit() is None  # unknown: nothing is refused
        assert analyze(huge_project().main).ok
    finally:
        memory._system_cache = None


def test_a_block_counts_its_inside_and_the_problem_lands_on_the_block_node():
    project = huge_project()
    net = project.main
    node = group_into_block(net, [net.find("dense_1").id, net.find("dense_2").id], "Wide")
    with memory_limit_override(64 * GiB):
        analysis = analyze(net)
    memory_problems = [p for p in analysis.problems if p.kind == "memory"]
    assert [p.node_id for p in memory_problems] == [node.id]
    assert "does not work inside" not in analysis.problems[0].message
    assert analysis.nodes[node.id].memory.params == 1_000_011_000_010
    # the inside's own outputs count as activations of the block node (the million-wide one too)
    assert analysis.nodes[node.id].memory.per_sample == 4 * 1_000_000 + 4 * 10


def test_defaults_match_the_training_options():
    from engine.options import TrainingOptions

    defaults = TrainingOptions()
    assert memory.DEFAULT_BATCH_SIZE == defaults.batch_size
    assert memory.DEFAULT_OPTIMIZER == defaults.optimizer
    assert memory.DEFAULT_MOMENTUM == defaults.momentum


def test_the_budget_is_part_of_the_cache_key():
    net = huge_project().main
    with memory_limit_override(64 * GiB):
        first = analyze(net)
        assert analyze(net) is first  # unchanged: the cached analysis
    with memory_limit_override(2**60):
        second = analyze(net)
    assert second is not first and second.ok
    assert dataclasses.replace(second.budget, batch_size=1).key != second.budget.key
