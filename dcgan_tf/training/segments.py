"""A run's remaining steps as `Model.fit` calls: planned from where it stands, each on a fresh
pipeline started at its step."""

from dcgan_tf.training.hardware_plan import steps_per_call


def plan_segments(done, total, steps_per_epoch):
    """Splits steps `done..total` into `fit` calls `(first_epoch, epochs, steps_per_epoch)`.

    A resumed run first finishes its partial epoch, so epochs stay aligned to the data.
    """
    segments = []
    while done < total:
        epoch = done // steps_per_epoch
        into = done % steps_per_epoch
        if into or total - done < steps_per_epoch:
            steps = min(steps_per_epoch - into, total - done)
            segments.append((epoch, 1, steps))
            done += steps
        else:
            full = (total - done) // steps_per_epoch
            segments.append((epoch, full, steps_per_epoch))
            done += full * steps_per_epoch
    return segments


def fit_segments(gan, segments, data_at, monitor, most_per_call, verbose="auto"):
    """Runs one `gan.fit` per segment of `plan_segments`, until the last or a stop.

    Args:
        gan: The compiled GAN, at the first segment's step.
        segments: `plan_segments`' `(first_epoch, epochs, steps_per_epoch)` calls.
        data_at: Called with a step, returns the training pipeline started there.
        monitor: The run's `RunMonitor` (the only callback): a NaN/inf loss or the time
            limit it notes ends the run after the call it stopped.
        most_per_call: The most train steps per call (`HardwarePlan.steps_per_call`).
        verbose: Keras `fit` verbosity. Defaults to `"auto"`.
    """
    for first_epoch, epochs, steps in segments:
        # Each `fit` iterates a fresh pipeline started where the data stream stood at this
        # step, as an uninterrupted run's would. Fresh, because a seeded shuffle reshuffles
        # for every further iterator of the same dataset (as taking the real batch made).
        segment_data = data_at(gan.step)
        _set_steps_per_execution(gan, steps_per_call(most_per_call, steps))
        # The monitor writes TensorBoard's scalars itself, on the step: Keras' TensorBoard
        # callback logs them against the epoch, off the step axis of the sample grids.
        gan.fit(
            segment_data, initial_epoch=first_epoch, epochs=first_epoch + epochs,
            steps_per_epoch=steps, callbacks=[monitor], verbose=verbose, shuffle=False,
        )
        if monitor.bad_step is not None or monitor.timed_out:
            break


def _set_steps_per_execution(gan, count):
    """Sets the steps per call of the next `fit` (`hardware_plan.steps_per_call`)."""
    # Keras traces the multi-step loop with this count: a new count needs a new function.
    if gan.steps_per_execution != count:
        gan.steps_per_execution = count
        gan.train_function = None
