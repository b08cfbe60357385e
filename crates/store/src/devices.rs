//! Customers' own devices (phones, GSM modems) as a delivery channel: the devices, their
//! pairing and credentials (SHA-256 hashes only), the assignment of messages to devices, the
//! account's routing choice, and inbound messages a device received.
//!
//! An assignment is written before the device hears of the message and moves only forward
//! (`assigned` -> `acked` -> `sent` -> `delivered` | `failed`), so a device that reconnects is
//! given again exactly what it has not acknowledged, and a report repeated after a reconnect
//! changes nothing.

use domain::optout::Keywords;
use domain::{AccountId, MessageId};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{NewInbound, Result, Store, StoreError};

/// A device as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRecord {
    pub id: i64,
    pub account: AccountId,
    pub name: String,
    /// Until then the pairing code works (while the device is not paired).
    pub pairing_expires_at: Option<i64>,
    pub per_minute: u32,
    pub per_day: u32,
    pub model: Option<String>,
    pub sim_slots: Option<i64>,
    pub signal: Option<i64>,
    pub battery: Option<i64>,
    pub last_seen_at: Option<i64>,
    pub created_at: i64,
    pub paired_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A device to create, with the hash of its one-time pairing code.
#[derive(Debug, Clone)]
pub struct NewDevice {
    pub id: i64,
    pub account: AccountId,
    pub name: String,
    pub pairing_code_hash: String,
    pub pairing_expires_at: i64,
    pub per_minute: u32,
    pub per_day: u32,
}

/// What to do with a message while none of the account's devices can take it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfflineFallback {
    /// After the wait, the message fails.
    Fail,
    /// After the wait, the message goes by the carrier route table.
    Carrier,
}

impl OfflineFallback {
    pub fn as_str(self) -> &'static str {
        match self {
            OfflineFallback::Fail => "fail",
            OfflineFallback::Carrier => "carrier",
        }
    }
}

/// An account's routing choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceRouting {
    /// Messages go to the account's devices unless a request says otherwise.
    pub device_by_default: bool,
    /// How long a message waits for a device, counted from its acceptance.
    pub offline_wait_s: u32,
    pub offline_fallback: OfflineFallback,
}

impl Default for DeviceRouting {
    fn default() -> Self {
        Self {
            device_by_default: false,
            offline_wait_s: 600,
            offline_fallback: OfflineFallback::Fail,
        }
    }
}

/// How far a message got on its device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentState {
    /// Recorded here; the device may not have it yet.
    Assigned,
    /// The device confirmed it holds the message.
    Acked,
    /// The device's modem or phone took it (network references known).
    Sent,
    Delivered,
    Failed,
}

impl AssignmentState {
    pub fn as_str(self) -> &'static str {
        match self {
            AssignmentState::Assigned => "assigned",
            AssignmentState::Acked => "acked",
            AssignmentState::Sent => "sent",
            AssignmentState::Delivered => "delivered",
            AssignmentState::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "assigned" => AssignmentState::Assigned,
            "acked" => AssignmentState::Acked,
            "sent" => AssignmentState::Sent,
            "delivered" => AssignmentState::Delivered,
            "failed" => AssignmentState::Failed,
            other => {
                return Err(StoreError::Corrupt(format!(
                    "unknown assignment state {other:?}"
                )))
            }
        })
    }

    /// The states a report of `self` may follow: reports only move forward.
    fn predecessors(self) -> &'static str {
        match self {
            AssignmentState::Assigned => "",
            AssignmentState::Acked => "'assigned'",
            AssignmentState::Sent => "'assigned', 'acked'",
            AssignmentState::Delivered | AssignmentState::Failed => "'assigned', 'acked', 'sent'",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, AssignmentState::Delivered | AssignmentState::Failed)
    }
}

/// A message assigned to a device, with what the device needs to send it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub message_id: MessageId,
    pub device_id: i64,
    pub account: AccountId,
    pub state: AssignmentState,
    pub to: String,
    pub body: String,
    pub ciphertext: Option<String>,
    pub parts: u32,
    pub expires_at: i64,
}

const DEVICE_COLUMNS: &str =
    "id, account_id, name, pairing_expires_at, per_minute, per_day, model, \
     sim_slots, signal, battery, last_seen_at, created_at, paired_at, revoked_at";

fn device_from_row(r: &AnyRow) -> Result<DeviceRecord> {
    let limit = |col: &str| -> Result<u32> {
        u32::try_from(r.try_get::<i64, _>(col)?).map_err(|e| StoreError::Corrupt(e.to_string()))
    };
    Ok(DeviceRecord {
        id: r.try_get("id")?,
        account: AccountId::new(r.try_get("account_id")?),
        name: r.try_get("name")?,
        pairing_expires_at: r.try_get("pairing_expires_at")?,
        per_minute: limit("per_minute")?,
        per_day: limit("per_day")?,
        model: r.try_get("model")?,
        sim_slots: r.try_get("sim_slots")?,
        signal: r.try_get("signal")?,
        battery: r.try_get("battery")?,
        last_seen_at: r.try_get("last_seen_at")?,
        created_at: r.try_get("created_at")?,
        paired_at: r.try_get("paired_at")?,
        revoked_at: r.try_get("revoked_at")?,
    })
}

const ASSIGNMENT_SELECT: &str = "SELECT a.message_id, a.device_id, a.account_id, a.state, m.to_number, \
     m.body, m.ciphertext, m.parts, m.expires_at FROM device_assignments a JOIN messages m ON m.id = a.message_id";

fn assignment_from_row(r: &AnyRow) -> Result<Assignment> {
    Ok(Assignment {
        message_id: MessageId::new(r.try_get("message_id")?),
        device_id: r.try_get("device_id")?,
        account: AccountId::new(r.try_get("account_id")?),
        state: AssignmentState::parse(&r.try_get::<String, _>("state")?)?,
        to: r.try_get("to_number")?,
        body: r.try_get("body")?,
        ciphertext: r.try_get("ciphertext")?,
        parts: u32::try_from(r.try_get::<i64, _>("parts")?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        expires_at: r.try_get("expires_at")?,
    })
}

impl Store {
    pub async fn create_device(&self, d: &NewDevice, now: i64) -> Result<()> {
        sqlx::query(
            "INSERT INTO devices (id, account_id, name, pairing_code_hash, pairing_expires_at, per_minute, \
             per_day, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(d.id)
        .bind(d.account.get())
        .bind(d.name.as_str())
        .bind(d.pairing_code_hash.as_str())
        .bind(d.pairing_expires_at)
        .bind(i64::from(d.per_minute))
        .bind(i64::from(d.per_day))
        .bind(now)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// The account's devices, revoked ones included, oldest first.
    pub async fn list_devices(&self, account: AccountId) -> Result<Vec<DeviceRecord>> {
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE account_id = $1 ORDER BY id");
        let rows = sqlx::query(&sql)
            .bind(account.get())
            .fetch_all(&self.write)
            .await?;
        rows.iter().map(device_from_row).collect()
    }

    pub async fn get_device(&self, id: i64) -> Result<Option<DeviceRecord>> {
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1");
        let row = sqlx::query(&sql)
            .bind(id)
            .fetch_optional(&self.write)
            .await?;
        row.as_ref().map(device_from_row).transpose()
    }

    /// Exchanges a live pairing code (by its hash) for a credential (by its hash): the code
    /// works once. `None` when no unexpired, unused code has this hash.
    pub async fn pair_device(
        &self,
        code_hash: &str,
        credential_hash: &str,
        now: i64,
    ) -> Result<Option<DeviceRecord>> {
        let sql = format!(
            "UPDATE devices SET credential_hash = $1, pairing_code_hash = NULL, pairing_expires_at = NULL, \
             paired_at = $2 WHERE pairing_code_hash = $3 AND pairing_expires_at > $2 AND revoked_at IS NULL \
             RETURNING {DEVICE_COLUMNS}"
        );
        let row = sqlx::query(&sql)
            .bind(credential_hash)
            .bind(now)
            .bind(code_hash)
            .fetch_optional(&self.write)
            .await?;
        row.as_ref().map(device_from_row).transpose()
    }

    /// The live (paired, not revoked) device holding a credential with this hash.
    pub async fn device_for_credential(
        &self,
        credential_hash: &str,
    ) -> Result<Option<DeviceRecord>> {
        let sql = format!(
            "SELECT {DEVICE_COLUMNS} FROM devices WHERE credential_hash = $1 AND revoked_at IS NULL"
        );
        let row = sqlx::query(&sql)
            .bind(credential_hash)
            .fetch_optional(&self.write)
            .await?;
        row.as_ref().map(device_from_row).transpose()
    }

    /// Revokes a device of the account: its credential and pairing code stop working. Its
    /// assignments not yet acknowledged are withdrawn (their messages go to the account's other
    /// devices). `false` when the account has no such live device.
    pub async fn revoke_device(&self, account: AccountId, id: i64, now: i64) -> Result<bool> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let n = sqlx::query(
            "UPDATE devices SET revoked_at = $1, pairing_code_hash = NULL, credential_hash = NULL \
             WHERE id = $2 AND account_id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .bind(account.get())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM device_assignments WHERE device_id = $1 AND state = 'assigned'")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    /// Records that a device was heard from, with what it said about itself.
    pub async fn device_seen(
        &self,
        id: i64,
        now: i64,
        model: Option<&str>,
        sim_slots: Option<i64>,
        signal: Option<i64>,
        battery: Option<i64>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE devices SET last_seen_at = $1, model = COALESCE($2, model), \
             sim_slots = COALESCE($3, sim_slots), signal = COALESCE($4, signal), \
             battery = COALESCE($5, battery) WHERE id = $6",
        )
        .bind(now)
        .bind(model)
        .bind(sim_slots)
        .bind(signal)
        .bind(battery)
        .bind(id)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// The account's routing choice (defaults when it never chose).
    pub async fn device_routing(&self, account: AccountId) -> Result<DeviceRouting> {
        let row = sqlx::query(
            "SELECT route, offline_wait_s, offline_fallback FROM device_settings WHERE account_id = $1",
        )
        .bind(account.get())
        .fetch_optional(&self.read)
        .await?;
        let Some(r) = row else {
            return Ok(DeviceRouting::default());
        };
        Ok(DeviceRouting {
            device_by_default: r.try_get::<String, _>("route")? == "device",
            offline_wait_s: u32::try_from(r.try_get::<i64, _>("offline_wait_s")?)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            offline_fallback: match r.try_get::<String, _>("offline_fallback")?.as_str() {
                "carrier" => OfflineFallback::Carrier,
                _ => OfflineFallback::Fail,
            },
        })
    }

    pub async fn set_device_routing(&self, account: AccountId, r: DeviceRouting) -> Result<()> {
        sqlx::query(
            "INSERT INTO device_settings (account_id, route, offline_wait_s, offline_fallback) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (account_id) DO UPDATE SET route = excluded.route, \
             offline_wait_s = excluded.offline_wait_s, offline_fallback = excluded.offline_fallback",
        )
        .bind(account.get())
        .bind(if r.device_by_default {
            "device"
        } else {
            "carrier"
        })
        .bind(i64::from(r.offline_wait_s))
        .bind(r.offline_fallback.as_str())
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// How many live (paired, not revoked) devices the account has.
    pub async fn live_device_count(&self, account: AccountId) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM devices WHERE account_id = $1 AND revoked_at IS NULL",
        )
        .bind(account.get())
        .fetch_one(&self.read)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// How many live (paired, not revoked) devices all accounts have.
    pub async fn live_device_total(&self) -> Result<i64> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM devices WHERE paired_at IS NOT NULL AND revoked_at IS NULL",
        )
        .fetch_one(&self.read)
        .await?;
        Ok(row.try_get("n")?)
    }

    /// The message's assignment, if it has one.
    pub async fn assignment(&self, message: MessageId) -> Result<Option<Assignment>> {
        let sql = format!("{ASSIGNMENT_SELECT} WHERE a.message_id = $1");
        let row = sqlx::query(&sql)
            .bind(message.get())
            .fetch_optional(&self.write)
            .await?;
        row.as_ref().map(assignment_from_row).transpose()
    }

    /// Assigns a message to a device, or moves an assignment that its device never
    /// acknowledged to another device. Returns the assignment as it now stands (an
    /// acknowledged one stays where it is).
    pub async fn assign(
        &self,
        message: MessageId,
        device: i64,
        account: AccountId,
        now: i64,
    ) -> Result<Assignment> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let moved = sqlx::query(
            "UPDATE device_assignments SET device_id = $1, assigned_at = $2, updated_at = $2 \
             WHERE message_id = $3 AND state = 'assigned'",
        )
        .bind(device)
        .bind(now)
        .bind(message.get())
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if moved == 0 {
            sqlx::query(
                "INSERT INTO device_assignments (message_id, device_id, account_id, state, assigned_at, updated_at) \
                 VALUES ($1, $2, $3, 'assigned', $4, $4) ON CONFLICT (message_id) DO NOTHING",
            )
            .bind(message.get())
            .bind(device)
            .bind(account.get())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        let sql = format!("{ASSIGNMENT_SELECT} WHERE a.message_id = $1");
        let row = sqlx::query(&sql)
            .bind(message.get())
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        assignment_from_row(&row)
    }

    /// Moves a device's assignment forward to `state`. Returns `false` when the message is not
    /// assigned to this device or is already at or past `state` (a repeated report).
    pub async fn advance_assignment(
        &self,
        device: i64,
        message: MessageId,
        state: AssignmentState,
        refs: Option<&str>,
        error: Option<&str>,
        now: i64,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE device_assignments SET state = $1, refs = COALESCE($2, refs), error = COALESCE($3, error), \
             updated_at = $4 WHERE message_id = $5 AND device_id = $6 AND state IN ({})",
            state.predecessors()
        );
        let n = sqlx::query(&sql)
            .bind(state.as_str())
            .bind(refs)
            .bind(error)
            .bind(now)
            .bind(message.get())
            .bind(device)
            .execute(&self.write)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// The device's assignments it has not reported sent yet, oldest first: what to give it
    /// again when it reconnects.
    pub async fn open_assignments(&self, device: i64) -> Result<Vec<Assignment>> {
        let sql = format!(
            "{ASSIGNMENT_SELECT} WHERE a.device_id = $1 AND a.state IN ('assigned', 'acked') \
             ORDER BY a.message_id"
        );
        let rows = sqlx::query(&sql)
            .bind(device)
            .fetch_all(&self.write)
            .await?;
        rows.iter().map(assignment_from_row).collect()
    }

    /// Messages assigned to the device since `since` (for its per-minute and per-day limits)
    /// and those it holds unsent now (its queue).
    pub async fn device_load(&self, device: i64, since: i64) -> Result<(u32, u32)> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS assigned, \
             COALESCE(SUM(CASE WHEN state IN ('assigned', 'acked') THEN 1 ELSE 0 END), 0) AS queued \
             FROM device_assignments WHERE device_id = $1 AND assigned_at >= $2",
        )
        .bind(device)
        .bind(since)
        .fetch_one(&self.write)
        .await?;
        let n = |c: &str| -> Result<u32> {
            u32::try_from(r_i64(&row, c)?).map_err(|e| StoreError::Corrupt(e.to_string()))
        };
        Ok((n("assigned")?, n("queued")?))
    }

    /// Stores an inbound message a device of `account` received, once: a repeat of the same
    /// `smsc_id` (the device's own id for it) changes nothing and returns `false`. Opt-out
    /// replies take effect in the same transaction.
    pub async fn store_device_inbound(
        &self,
        account: AccountId,
        m: &NewInbound,
        keywords: &Keywords,
    ) -> Result<bool> {
        let mut conn = self.write_conn(crate::Durability::Full).await?;
        let mut tx = crate::begin_write(&mut conn).await?;
        let seen =
            sqlx::query("SELECT id FROM inbound_messages WHERE connector = $1 AND smsc_id = $2")
                .bind(m.connector.as_str())
                .bind(m.smsc_id.as_deref())
                .fetch_optional(&mut *tx)
                .await?;
        if seen.is_some() {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO inbound_messages (id, account_id, connector, from_number, to_number, body, smsc_id, received_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(m.id)
        .bind(account.get())
        .bind(m.connector.as_str())
        .bind(m.from.as_str())
        .bind(m.to.as_str())
        .bind(m.body.as_str())
        .bind(m.smsc_id.as_deref())
        .bind(m.received_at)
        .execute(&mut *tx)
        .await?;
        if let Some(k) = keywords.classify(&m.body) {
            self.apply_keywords_in(
                &mut tx,
                &[(m.id, m.from.clone(), Some(account), k)],
                crate::now_us(),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }
}

fn r_i64(row: &AnyRow, col: &str) -> Result<i64> {
    Ok(row.try_get(col)?)
}
