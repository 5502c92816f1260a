//! `TurnStore` for PostgreSQL: reads straight from the pool, each write in a transaction of its
//! own (`write_tx`), retried when it loses to a concurrent one.

use super::PgStore;
use super::people::{LEDGER_COLS, ledger_row_at};
use super::rows::*;
use super::write_tx::{self, TxResult};
use super::{turn_commit, turn_delivery, turn_queue, turns};
use crate::*;
use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgRow;
use std::sync::LazyLock;
use switchboard_core::{Channel, Content, Conversation, ConversationId, Message, MessageId, MessageStatus, TenantId};
use tokio::sync::mpsc::UnboundedReceiver;

async fn fetch_opt<T>(store: &PgStore, sql: String, binds: &[&str], f: fn(&PgRow) -> Result<T>) -> Result<Option<T>> {
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for b in binds {
        q = q.bind(*b);
    }
    q.fetch_optional(store.pool()).await?.as_ref().map(f).transpose()
}

fn all<T>(rows: Vec<PgRow>, f: fn(&PgRow) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(f).collect()
}

#[async_trait]
impl TurnStore for PgStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(self.pool()).await?;
        Ok(())
    }

    async fn accept_inbound(&self, tenant: &TenantId, inbound: NewInbound) -> Result<Accepted> {
        let quota = self.cached_settings(tenant).await?.monthly_message_quota;
        let (accepted, count_later) =
            write_tx::run(self, |w, _| Box::pin(turns::accept(w, tenant, inbound.clone(), quota))).await?;
        if count_later {
            super::tally::add(&self.counts, tenant.as_str(), turns::month(accepted.created_at));
        }
        Ok(accepted)
    }

    async fn conversation(&self, tenant: &TenantId, id: &ConversationId) -> Result<Option<Conversation>> {
        fetch_opt(
            self,
            format!("SELECT {CONVERSATION_COLS} FROM conversations WHERE id = $1 AND tenant_id = $2"),
            &[id.as_str(), tenant.as_str()],
            conversation_row,
        )
        .await
    }

    async fn open_conversation(&self, tenant: &TenantId, channel: Channel, user: &str) -> Result<Option<Conversation>> {
        fetch_opt(
            self,
            format!(
                "SELECT {CONVERSATION_COLS} FROM conversations \
                 WHERE tenant_id = $1 AND channel = $2 AND user_id = $3 AND status = 'open'"
            ),
            &[tenant.as_str(), channel.as_str(), user],
            conversation_row,
        )
        .await
    }

    async fn close_conversation(&self, tenant: &TenantId, id: &ConversationId) -> Result<bool> {
        write_tx::run(self, |w, _| {
            Box::pin(async move {
                let n = sqlx::query(
                    "UPDATE conversations SET status = 'closed', updated_at = $3 \
                 WHERE id = $1 AND tenant_id = $2 AND status = 'open'",
                )
                .bind(id.as_str())
                .bind(tenant.as_str())
                .bind(w.now)
                .execute(w.conn())
                .await?;
                Ok(n.rows_affected() > 0)
            })
        })
        .await
    }

    async fn message(&self, tenant: &TenantId, id: &MessageId) -> Result<Option<Message>> {
        fetch_opt(
            self,
            format!("SELECT {MESSAGE_COLS} FROM messages WHERE id = $1 AND tenant_id = $2"),
            &[id.as_str(), tenant.as_str()],
            message_row,
        )
        .await
    }

    async fn turn_input(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        message: &MessageId,
    ) -> Result<Option<TurnInput>> {
        static SQL: LazyLock<String> = LazyLock::new(|| {
            format!(
                "SELECT {}, {}, {} FROM messages m \
                 JOIN conversations c ON c.id = m.conversation_id AND c.tenant_id = m.tenant_id \
                 LEFT JOIN LATERAL (SELECT * FROM consent_ledger WHERE tenant_id = m.tenant_id \
                 AND channel = m.channel AND user_id = m.user_id ORDER BY id DESC LIMIT 1) l ON TRUE \
                 WHERE m.id = $1 AND m.tenant_id = $2 AND m.conversation_id = $3",
                prefixed(MESSAGE_COLS, "m"),
                prefixed(CONVERSATION_COLS, "c"),
                prefixed(LEDGER_COLS, "l"),
            )
        });
        let row = sqlx::query(sqlx::AssertSqlSafe(SQL.as_str()))
            .bind(message.as_str())
            .bind(tenant.as_str())
            .bind(conversation.as_str())
            .fetch_optional(self.pool())
            .await?;
        let Some(r) = row else { return Ok(None) };
        let (m, c) = (MESSAGE_COLS.split(", ").count(), CONVERSATION_COLS.split(", ").count());
        let consent = match r.try_get::<Option<i64>, _>(m + c)? {
            Some(_) => Some(ledger_row_at(&r, m + c)?),
            None => None,
        };
        Ok(Some(TurnInput {
            message: message_row(&r)?,
            conversation: conversation_row_at(&r, m)?,
            consent,
        }))
    }

    async fn messages_after(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        after: i64,
        limit: u32,
    ) -> Result<Vec<Message>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLS} FROM messages WHERE conversation_id = $1 AND tenant_id = $2 AND seq > $3 \
             ORDER BY seq LIMIT $4"
        )))
        .bind(conversation.as_str())
        .bind(tenant.as_str())
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        all(rows, message_row)
    }

    async fn replies_to(&self, tenant: &TenantId, message: &MessageId) -> Result<Vec<Message>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {MESSAGE_COLS} FROM messages WHERE in_reply_to = $1 AND tenant_id = $2 ORDER BY reply_index"
        )))
        .bind(message.as_str())
        .bind(tenant.as_str())
        .fetch_all(self.pool())
        .await?;
        all(rows, message_row)
    }

    async fn complete_turn(&self, tenant: &TenantId, commit: TurnCommit) -> Result<Vec<Message>> {
        if turn_commit::alone(&commit) {
            return write_tx::run_alone(self, |c, now, _| {
                Box::pin(turn_commit::complete_alone(c, tenant, commit.clone(), now))
            })
            .await;
        }
        write_tx::run(self, |w, _| Box::pin(turn_commit::complete(w, tenant, commit.clone()))).await
    }

    async fn finish_job(&self, tenant: &TenantId, job_id: i64) -> Result<()> {
        write_tx::run(self, |w, _| {
            Box::pin(async move {
                let n = sqlx::query("DELETE FROM jobs WHERE id = $1 AND tenant_id = $2")
                    .bind(job_id)
                    .bind(tenant.as_str())
                    .execute(w.conn())
                    .await?;
                if n.rows_affected() == 0 {
                    return Err(StoreError::NotFound(format!("job {job_id}")).into());
                }
                TxResult::Ok(())
            })
        })
        .await
    }

    async fn record_delivery(
        &self,
        tenant: &TenantId,
        message: &MessageId,
        status: MessageStatus,
        platform_id: Option<&str>,
        error: Option<&str>,
    ) -> Result<()> {
        write_tx::run(self, |w, _| {
            Box::pin(turn_delivery::record(w, tenant, message, status, platform_id, error))
        })
        .await
    }

    async fn parts_sent(&self, tenant: &TenantId, message: &MessageId) -> Result<u32> {
        let parts: Option<i64> = sqlx::query_scalar(
            "SELECT parts_sent FROM messages WHERE id = $1 AND tenant_id = $2 AND direction = 'out'",
        )
        .bind(message.as_str())
        .bind(tenant.as_str())
        .fetch_optional(self.pool())
        .await?;
        let parts = parts.ok_or_else(|| StoreError::NotFound(format!("outbound message {message}")))?;
        Ok(u32::try_from(parts).unwrap_or(0))
    }

    async fn record_parts_sent(
        &self,
        tenant: &TenantId,
        message: &MessageId,
        parts: u32,
        platform_id: Option<&str>,
    ) -> Result<()> {
        write_tx::run(self, |w, _| {
            Box::pin(turn_delivery::record_parts(w, tenant, message, parts, platform_id))
        })
        .await
    }

    async fn apply_platform_status(
        &self,
        tenant: &TenantId,
        channel: Channel,
        platform_id: &str,
        status: MessageStatus,
    ) -> Result<Option<MessageId>> {
        write_tx::run(self, |w, _| {
            Box::pin(turn_delivery::apply_platform_status(
                w,
                tenant,
                channel,
                platform_id,
                status,
            ))
        })
        .await
    }

    async fn retry_job(&self, tenant: &TenantId, job_id: i64, attempts: u32, run_at: i64, error: &str) -> Result<()> {
        write_tx::run(self, |w, _| {
            Box::pin(turn_queue::retry(w, tenant, job_id, attempts, run_at, error))
        })
        .await
    }

    async fn dead_letter_job(&self, tenant: &TenantId, job_id: i64, attempts: u32, error: &str) -> Result<DeadLetter> {
        write_tx::run(self, |w, _| {
            Box::pin(turn_queue::dead_letter(w, tenant, job_id, attempts, error))
        })
        .await
    }

    async fn dead_letters(&self, tenant: Option<&TenantId>, limit: u32) -> Result<Vec<DeadLetter>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {DEAD_LETTER_COLS} FROM dead_letters WHERE replayed_at IS NULL \
             AND ($1::text IS NULL OR tenant_id = $1) ORDER BY id LIMIT $2"
        )))
        .bind(tenant.map(TenantId::as_str))
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        all(rows, dead_letter_row)
    }

    async fn replay_dead_letter(&self, tenant: &TenantId, id: i64) -> Result<Job> {
        write_tx::run(self, |w, _| Box::pin(turn_queue::replay(w, tenant, id))).await
    }

    async fn add_proactive(
        &self,
        tenant: &TenantId,
        conversation: &ConversationId,
        content: Content,
        metadata: serde_json::Value,
        deliver: bool,
    ) -> Result<Message> {
        write_tx::run(self, |w, _| {
            Box::pin(turns::proactive(
                w,
                tenant,
                conversation,
                content.clone(),
                metadata.clone(),
                deliver,
            ))
        })
        .await
    }

    async fn pending_jobs(&self, after: i64, limit: u32) -> Result<Vec<Job>> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLS} FROM jobs WHERE id > $1 ORDER BY id LIMIT $2"
        )))
        .bind(after)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        all(rows, job_row)
    }

    async fn queue_stats(&self) -> Result<QueueStats> {
        let row = sqlx::query(
            "SELECT (SELECT count(*) FROM jobs), (SELECT min(created_at) FROM jobs), \
             (SELECT count(*) FROM dead_letters WHERE replayed_at IS NULL)",
        )
        .fetch_one(self.pool())
        .await?;
        let (depth, oldest, dead): (i64, Option<i64>, i64) = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        Ok(QueueStats {
            depth: depth.max(0) as u64,
            oldest_created_at: oldest,
            dead_letters: dead.max(0) as u64,
        })
    }

    fn job_feed(&self) -> Option<UnboundedReceiver<Job>> {
        self.take_feed()
    }

    async fn flush(&self) -> Result<()> {
        self.flush_counts().await
    }

    fn close(&self) {
        self.shut()
    }
}
