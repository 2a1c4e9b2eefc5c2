-- The seed document's example tables, exactly as its "使用示例" DDL (run by scripts/demo.sh with
-- `mc-emulator create-table --project project_name --file demo/tables.sql`).

-- TEXT
CREATE TABLE IF NOT EXISTS table_text(
  topic STRING,
  `partition` BIGINT,
  `offset` BIGINT,
  key STRING,
  value STRING
) PARTITIONED BY (pt STRING);

-- CSV
CREATE TABLE IF NOT EXISTS table_csv(
  topic STRING,
  `partition` BIGINT,
  `offset` BIGINT,
  id BIGINT,
  name STRING,
  region STRING
) PARTITIONED BY (pt STRING);

-- JSON
CREATE TABLE IF NOT EXISTS table_json(
  topic STRING,
  `partition` BIGINT,
  `offset` BIGINT,
  key STRING,
  value JSON
) PARTITIONED BY (pt STRING);

-- FLATTEN
CREATE TABLE IF NOT EXISTS table_flatten(
  topic STRING,
  `partition` BIGINT,
  `offset` BIGINT,
  id BIGINT,
  name STRING,
  extendinfo JSON
) PARTITIONED BY (pt STRING);

-- Abnormal data: the seed creates it with table_flatten's DDL, but its connector config writes to
-- `test_flatten`; the demo gives the example its own table of that name so its result does not mix
-- with the FLATTEN example's rows.
CREATE TABLE IF NOT EXISTS test_flatten(
  topic STRING,
  `partition` BIGINT,
  `offset` BIGINT,
  id BIGINT,
  name STRING,
  extendinfo JSON
) PARTITIONED BY (pt STRING);
