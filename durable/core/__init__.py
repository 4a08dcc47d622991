"""The operation model and the pure logic over it: the bottom layer.

Records (`records`), history events (`history`), the transitions that turn a
checkpoint or a due timer into new records and events (`transitions`), and
callback-id signing (`callback_ids`).  No threads, no actors, no I/O: every
other layer builds on these, and these import nothing above them.
"""
