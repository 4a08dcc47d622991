"""One module per operation kind: what it checkpoints and how it replays.

Every operation has the same shape: look the operation up, return or raise
its recorded outcome, or run and checkpoint.  Operations work on the
invocation (`durable.invocation.Invocation`) and an `OperationIdentifier`;
they never see the concrete `DurableContext`.
"""
