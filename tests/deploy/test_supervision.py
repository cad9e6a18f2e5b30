"""The driver's bookkeeping of restarts and stalls (pure: fed the status answers a real learner gives)."""

from vtrax.deploy.runtime.supervision import LearnerBook, Watchdog


def test_learner_book_counts_a_new_pid_as_a_restart_and_names_what_it_restored():
    book = LearnerBook()
    assert book.update({"pid": 10, "restored_from": None}, now=0.0) is None
    assert book.update(None, now=1.0) == "the learner does not answer; waiting for Ray to restart it"
    assert book.down_for(4.0) == 3.0
    message = book.update({"pid": 11, "restored_from": "/run/checkpoints/ckpt_000000000040"}, now=5.0)
    assert message == ("the learner was restarted (pid 10 -> 11), restored from "
                       "/run/checkpoints/ckpt_000000000040")
    assert book.restarts == 1 and book.down_for(6.0) == 0.0
    assert book.update({"pid": 11}, now=7.0) is None and book.restarts == 1


def test_learner_book_says_when_corrupt_checkpoints_were_skipped_at_start_and_after_a_restart():
    book = LearnerBook()
    skipped = {"restored_from": "/r/ckpt_000000000005", "unreadable_checkpoints": ["ckpt_000000000009 (ValueError: x)"]}
    first = book.update({"pid": 10, **skipped}, now=0.0)
    assert first == ("Skipped unreadable (partial or corrupt) checkpoints: ckpt_000000000009 (ValueError: x); "
                     "restored the newest readable one, /r/ckpt_000000000005")
    assert book.update({"pid": 10, **skipped}, now=1.0) is None, "said once per learner process"
    after_restart = book.update({"pid": 12, **skipped}, now=2.0)
    assert after_restart.startswith("the learner was restarted (pid 10 -> 12)") and "Skipped unreadable" in after_restart


def test_watchdog_names_what_stopped_growing():
    dog = Watchdog(stall_timeout_s=10.0)
    assert dog.observe(0.0, frames=100, updates=5) is None
    assert dog.observe(8.0, frames=200, updates=5) is None
    message = dog.observe(16.0, frames=300, updates=5)
    assert message is not None and "update" in message
