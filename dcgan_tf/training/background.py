"""One background thread for a run's file writes, so training does not wait on the disk.

Tasks run one at a time in submission order (a single writer: checkpoints are published and
pruned in step order). At most one task waits behind the running one, which bounds the
memory that queued snapshots hold; an error in a task is raised in the training thread at
the next `submit` or at `close`, so a failed write still stops the run.
"""

import concurrent.futures


class BackgroundWriter:
    """Runs file-writing tasks on one thread, in order, re-raising their errors.

    Args:
        max_pending: Tasks allowed to be queued or running before `submit` waits.
            Defaults to 2.
    """

    def __init__(self, max_pending=2):
        self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="dcgan-writer")
        self._pending = []
        self._max_pending = max_pending

    def submit(self, fn, *args, **kwargs):
        """Queues `fn(*args, **kwargs)`; first waits while `max_pending` tasks are unfinished."""
        self._reap(block=len(self._pending) >= self._max_pending)
        self._pending.append(self._executor.submit(fn, *args, **kwargs))

    def wait(self):
        """Blocks until every queued task has finished; raises the first error among them."""
        self._reap(block=True, everything=True)

    def close(self):
        """Waits for the queued tasks, stops the thread and raises the first task error."""
        try:
            self.wait()
        finally:
            self._executor.shutdown(wait=True)

    def _reap(self, block, everything=False):
        if block and self._pending:
            wanted = self._pending if everything else self._pending[:1]
            concurrent.futures.wait(wanted)
        done = [f for f in self._pending if f.done()]
        self._pending = [f for f in self._pending if not f.done()]
        for future in done:
            future.result()  # Re-raises the task's exception here, in the caller's thread.
