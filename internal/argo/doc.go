// Package argo exports a pipeline as Argo Workflows objects: a ConfigMap
// holding the pipeline file, and a Workflow, WorkflowTemplate or
// CronWorkflow whose DAG has one task per step and matrix variant, each
// running `mlrun run FILE --only STEP` in the mlrun image against a shared
// S3 lineage store.
//
// mlrun's cache is the workflow's memoization: a task whose step is in the
// store under the same cache key finishes at once. The pods see the
// pipeline file and its data files at the same paths relative to each
// other as the exporting machine (under Root), so that the cache keys,
// which record data file paths relative to the pipeline file, are those of
// a local run. Data files are S3 input artifacts; credentials come only
// from a Secret reference or the pods' service account (IRSA).
//
// The tests validate every export against Argo's published JSON Schema
// (testdata/argo-workflows.schema.json) and a strict key check of their own.
package argo
