"""All tables; importing this package registers them on ``Base.metadata``."""

from crowdquake.storage.models.devices import Device, DeviceState
from crowdquake.storage.models.events import Alert, Event, EventRevision, EventTrigger
from crowdquake.storage.models.operators import AuditLog, Operator, RegionAlertSwitch
from crowdquake.storage.models.pipeline import (
    AlertDelivery,
    BackgroundRate,
    RegionState,
    WorkerHeartbeat,
)
from crowdquake.storage.models.triggers import Trigger, Waveform

__all__ = [
    "Alert",
    "AlertDelivery",
    "AuditLog",
    "BackgroundRate",
    "Device",
    "DeviceState",
    "Event",
    "EventRevision",
    "EventTrigger",
    "Operator",
    "RegionAlertSwitch",
    "RegionState",
    "Trigger",
    "Waveform",
    "WorkerHeartbeat",
]
