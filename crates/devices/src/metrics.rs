//! Per-device gauges in `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::hub::LiveState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeviceLabel {
    pub device: String,
    pub name: String,
}

#[derive(Clone, Default)]
pub struct DeviceMetrics {
    online: Family<DeviceLabel, Gauge>,
    signal: Family<DeviceLabel, Gauge>,
    battery: Family<DeviceLabel, Gauge>,
    queue: Family<DeviceLabel, Gauge>,
}

impl DeviceMetrics {
    pub fn register(registry: &mut Registry) -> Self {
        let m = Self::default();
        registry.register(
            "apisendsms_device_online",
            "1 while the device is connected to this node",
            m.online.clone(),
        );
        registry.register(
            "apisendsms_device_signal",
            "The device's last reported signal strength (0-31, 99 unknown)",
            m.signal.clone(),
        );
        registry.register(
            "apisendsms_device_battery_percent",
            "The device's last reported battery charge",
            m.battery.clone(),
        );
        registry.register(
            "apisendsms_device_queue",
            "Messages the device last said it holds unsent",
            m.queue.clone(),
        );
        m
    }

    /// Publishes a device's state; `None` when it went offline.
    pub fn set_live(&self, device: i64, name: &str, live: Option<LiveState>) {
        let label = DeviceLabel {
            device: device.to_string(),
            name: name.to_owned(),
        };
        self.online
            .get_or_create(&label)
            .set(i64::from(live.is_some()));
        if let Some(l) = live {
            if let Some(s) = l.signal {
                self.signal.get_or_create(&label).set(i64::from(s));
            }
            if let Some(b) = l.battery {
                self.battery.get_or_create(&label).set(i64::from(b));
            }
            if let Some(q) = l.queue {
                self.queue.get_or_create(&label).set(i64::from(q));
            }
        }
    }
}
