"""Audit trail: hash-chained records, the chain's head and anchor, PostgreSQL's guarding triggers

Revision ID: 4f9828799a7b
Revises: 83d3aa922db7
Create Date: 2026-12-01 23:08:59.000000

"""

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "4f9828799a7b"
down_revision = "83d3aa922db7"
branch_labels = None
depends_on = None

GENESIS = "0" * 64

# PostgreSQL. Appending: the record's content hash must fit its content; the head row is locked
# by the UPDATE (a worker appending at the same moment waits for this transaction to end, then
# reads the head it left), and hands the record its seq and chain hash.
POSTGRESQL_UP = """
CREATE FUNCTION audit_record_append() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.content_hash IS DISTINCT FROM encode(sha256(convert_to(NEW.content, 'UTF8')), 'hex') THEN
        RAISE EXCEPTION USING MESSAGE = 'audit record ' || NEW.reference || ': content_hash does not fit its content';
    END IF;
    UPDATE audit_chain
       SET seq = seq + 1,
           chain_hash = encode(sha256(decode(chain_hash, 'hex') || decode(NEW.content_hash, 'hex')), 'hex')
     WHERE id = 1
    RETURNING seq, chain_hash INTO NEW.seq, NEW.chain_hash;
    RETURN NEW;
END $$;

CREATE TRIGGER audit_record_append BEFORE INSERT ON audit_record
    FOR EACH ROW EXECUTE FUNCTION audit_record_append();

CREATE FUNCTION audit_record_refuse_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit records cannot be changed';
END $$;

CREATE TRIGGER audit_record_refuse_update BEFORE UPDATE ON audit_record
    FOR EACH ROW EXECUTE FUNCTION audit_record_refuse_update();

-- Removing: only in a transaction that declared itself a retention run
-- (SET LOCAL eh_broker.audit_retention = 'on'), and only the anchor's record and those before it.
CREATE FUNCTION audit_record_retention() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('eh_broker.audit_retention', true) = 'on'
       AND OLD.seq <= (SELECT anchor_seq FROM audit_chain WHERE id = 1) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION USING MESSAGE = 'audit record ' || OLD.seq || ' cannot be removed: only a retention run removes records, and only behind its anchor';
END $$;

CREATE TRIGGER audit_record_retention BEFORE DELETE ON audit_record
    FOR EACH ROW EXECUTE FUNCTION audit_record_retention();

CREATE FUNCTION audit_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit trail cannot be truncated';
END $$;

CREATE TRIGGER audit_record_refuse_truncate BEFORE TRUNCATE ON audit_record
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate();
CREATE TRIGGER audit_chain_refuse_truncate BEFORE TRUNCATE ON audit_chain
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate();

-- The head row changes in two ways only: an append (from the trigger above: the next seq, the
-- anchor untouched), or a retention run moving the anchor forward onto a record that is there,
-- with that record's chain hash and time, made more than 90 days ago, whatever the broker's
-- retention setting says.
CREATE FUNCTION audit_chain_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.id = OLD.id THEN
        IF pg_trigger_depth() > 1
           AND NEW.seq = OLD.seq + 1
           AND (NEW.anchor_seq, NEW.anchor_hash, NEW.anchor_at, NEW.anchored_at)
               IS NOT DISTINCT FROM (OLD.anchor_seq, OLD.anchor_hash, OLD.anchor_at, OLD.anchored_at) THEN
            RETURN NEW;
        END IF;
        IF current_setting('eh_broker.audit_retention', true) = 'on'
           AND NEW.seq = OLD.seq AND NEW.chain_hash = OLD.chain_hash
           AND NEW.anchor_seq > OLD.anchor_seq
           AND EXISTS (
               SELECT 1 FROM audit_record r
                WHERE r.seq = NEW.anchor_seq AND r.chain_hash = NEW.anchor_hash AND r.at = NEW.anchor_at
                  AND r.at < (now() AT TIME ZONE 'UTC') - interval '90 days') THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'the audit chain head changes only by appending a record or by a retention run';
END $$;

CREATE TRIGGER audit_chain_guard BEFORE INSERT OR UPDATE OR DELETE ON audit_chain
    FOR EACH ROW EXECUTE FUNCTION audit_chain_guard();
"""

POSTGRESQL_DOWN = """
DROP TRIGGER audit_chain_guard ON audit_chain;
DROP TRIGGER audit_chain_refuse_truncate ON audit_chain;
DROP TRIGGER audit_record_refuse_truncate ON audit_record;
DROP TRIGGER audit_record_retention ON audit_record;
DROP TRIGGER audit_record_refuse_update ON audit_record;
DROP TRIGGER audit_record_append ON audit_record;
DROP FUNCTION audit_chain_guard();
DROP FUNCTION audit_refuse_truncate();
DROP FUNCTION audit_record_retention();
DROP FUNCTION audit_record_refuse_update();
DROP FUNCTION audit_record_append();
"""

# SQLite (development, tests: one writer at a time). The app's INSERT computes seq and chain hash
# from the head (broker/models/audit.py); these triggers hold it to the head and move the head.
SQLITE_UP = [
    """
CREATE TRIGGER audit_record_append BEFORE INSERT ON audit_record
WHEN NEW.seq IS NOT (SELECT seq + 1 FROM audit_chain WHERE id = 1)
BEGIN SELECT RAISE(ABORT, 'audit records are appended at the head of the chain'); END
""",
    """
CREATE TRIGGER audit_record_moves_head AFTER INSERT ON audit_record
BEGIN UPDATE audit_chain SET seq = NEW.seq, chain_hash = NEW.chain_hash WHERE id = 1; END
""",
    """
CREATE TRIGGER audit_record_refuse_update BEFORE UPDATE ON audit_record
BEGIN SELECT RAISE(ABORT, 'audit records cannot be changed'); END
""",
    """
CREATE TRIGGER audit_record_retention BEFORE DELETE ON audit_record
WHEN OLD.seq > (SELECT anchor_seq FROM audit_chain WHERE id = 1)
BEGIN SELECT RAISE(ABORT, 'audit records are removed only behind the retention anchor'); END
""",
]

SQLITE_DOWN = [
    "DROP TRIGGER audit_record_retention",
    "DROP TRIGGER audit_record_refuse_update",
    "DROP TRIGGER audit_record_moves_head",
    "DROP TRIGGER audit_record_append",
]


def upgrade():
    op.create_table(
        "audit_record",
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("reference", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("chain_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("reference"),
    )
    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_record_at"), ["at"], unique=False)

    chain = op.create_table(
        "audit_chain",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("chain_hash", sa.String(length=64), nullable=False),
        sa.Column("anchor_seq", sa.BigInteger(), nullable=False),
        sa.Column("anchor_hash", sa.String(length=64), nullable=False),
        sa.Column("anchor_at", sa.DateTime(), nullable=True),
        sa.Column("anchored_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("id = 1", name="audit_chain_one_row"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.bulk_insert(
        chain,
        [
            {"id": 1, "seq": 0, "chain_hash": GENESIS, "anchor_seq": 0, "anchor_hash": GENESIS},
        ],
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_UP)
    else:
        for statement in SQLITE_UP:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_DOWN)
    else:
        for statement in SQLITE_DOWN:
            op.execute(statement)

    op.drop_table("audit_chain")
    with op.batch_alter_table("audit_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_record_at"))

    op.drop_table("audit_record")
