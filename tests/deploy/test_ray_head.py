"""A local Ray head with the dashboard off runs no dashboard process (its raylet and agents still run)."""


def test_no_dashboard_process_with_the_dashboard_off(local_ray_cluster, descendant_commands):
    processes = descendant_commands(local_ray_cluster.process.pid)
    assert any("raylet" in command for command in processes), processes
    assert not [command for command in processes if "dashboard/dashboard.py" in command]
