"""An integration with dursor cloud over Dapr pub/sub: a run notifier and a ticket bridge."""
