// Package config reads and checks strata.yaml, the one configuration file of
// Strata, and the STRATA_... environment variables that override it.
//
// Load decodes the file strictly (an unknown key is an error naming the key
// and its line), applies environment overrides, fills defaults and runs
// Validate, which reports every problem at once in the form
//
//	config strata.yaml: datasets[1].analytics.retention: "90" has no unit (use 90d)
//
// Paths such as datasets[1] count from 0. Secrets in the database and
// storage URLs never appear in errors; Redacted and Config.String mask them
// for echoing the effective configuration.
//
// # Environment overrides
//
// Every key may be overridden by a variable named STRATA_ followed by the
// key's path in upper case, its parts joined with '_':
//
//	database.url                         STRATA_DATABASE_URL
//	storage.prefix                       STRATA_STORAGE_PREFIX
//	server.listen                        STRATA_SERVER_LISTEN
//	log.level                            STRATA_LOG_LEVEL
//
// A dataset's keys are addressed by the dataset's name, upper-cased, in
// place of its list index:
//
//	datasets[name=orders].analytics.retention  STRATA_DATASETS_ORDERS_ANALYTICS_RETENTION
//	datasets[name=scor_metrics].transform      STRATA_DATASETS_SCOR_METRICS_TRANSFORM
//
// Variables override datasets that the file declares; they cannot add a
// dataset or rename one. Setting a key of a section the file leaves out
// (source or analytics) creates that section. Lists (analytics.key) are
// comma-separated. Values are trimmed of surrounding space, and an empty
// variable counts as unset, so the environment cannot blank a key. Should
// two datasets' keys map to one variable (today only names that Validate
// rejects, such as Orders beside orders, can), setting it is an error. The
// names are derived from the yaml tags of Config, so every key has one;
// docs/CONFIG.md lists them all.
//
// # Durations
//
// Durations are a whole number and one unit: s, m (minutes), h, d (24 hours)
// or y (365 days), such as 30s, 15m, 36h, 90d or 7y, or the word immediate.
package config
