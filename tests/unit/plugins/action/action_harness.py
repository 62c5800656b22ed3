"""Build a controller-side action plugin for a test, with the host out of reach."""

from unittest.mock import MagicMock


def controller_action(
    action_class, args=None, check_mode=False, template=lambda value: value, action_name=None
):
    task = MagicMock()
    task.args = args or {}
    task.async_val = 0
    task.check_mode = check_mode
    if action_name:
        task.action = action_name
    connection = MagicMock()
    connection._shell.tmpdir = None
    templar = MagicMock()
    templar.template.side_effect = template
    play_context = MagicMock()
    play_context.check_mode = False
    action = action_class(
        task=task,
        connection=connection,
        play_context=play_context,
        loader=MagicMock(),
        templar=templar,
        shared_loader_obj=None,
    )
    # Any attempt to reach the host would go through these.
    action._execute_module = MagicMock(side_effect=AssertionError("no module may run"))
    action._low_level_execute_command = MagicMock(side_effect=AssertionError("no command"))
    return action, connection


def run_on_controller(action, connection, task_vars):
    """Run an action built by controller_action and check that it never reached the host."""
    result = action.run(task_vars=task_vars)
    action._execute_module.assert_not_called()
    action._low_level_execute_command.assert_not_called()
    connection.exec_command.assert_not_called()
    connection.put_file.assert_not_called()
    return result
