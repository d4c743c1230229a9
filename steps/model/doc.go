// Package model holds mlrun's trained models and their canonical
// encodings: logistic regression and tree ensembles (random forests,
// gradient-boosted trees).
//
// A Model is a pipeline.Object of type "model": train produces one,
// evaluate (and later predict and monitor) reads it. Its encoding is one
// JSON object whose first keys form a versioned header,
//
//	{"format":"mlrun-model","version":1,"algorithm":"logistic_regression",...}
//
// and Decode dispatches on that header. Floating-point numbers are written
// by encoding/json, which uses the shortest representation that parses back
// to the same float64 (strconv precision -1), so an encoded model decodes to
// bit-identical coefficients and predictions. Struct fields are written in a
// fixed order and maps with sorted keys, so the encoding is canonical.
//
// Tree ensembles (*Ensemble, algorithms random_forest and
// gradient_boosting; grown by package tree) use the same header, version 1:
//
//	{"format":"mlrun-model","version":1,"algorithm":"gradient_boosting",
//	 "target":{"name":..,"type":..,"positive":..},
//	 "features":[{"name":..,"type":"float","edges":[..]} | {..,"type":"string","levels":[..]}],
//	 "base_score":..,"trees":T,
//	 "nodes":{"count":N,"roots":[..],"left":B64,"feature":B64,"bin":B64,"flags":B64,"value":B64,"cover":B64},
//	 "categories":B64,"importance":[{"feature":..,"gain":..,"splits":..}],
//	 "curve":{"train":[..],"valid":[..],"best_iteration":K},
//	 "training":{"rows":..,"positives":..,"valid_rows":..,"params":{..}}}
//
// Features carry their bins (see TreeFeature: numeric edges, string
// levels; bin 0 is missing). The trees are one flat node array in tree
// order, roots[t] the first node of tree t, stored column by column as
// little-endian binary in standard padded base64: left int32 (children are
// left and left+1, after the node in its tree; 0 for a leaf), feature
// uint16, bin uint8 (a numeric split sends bins ≤ bin left), flags uint8
// (1 leaf, 2 missing goes right, 4 categorical split), value and cover
// float64. categories holds 4 uint64 words (a 256-bit set of the bins going
// right) per categorical split, in node order. A forest predicts the mean
// leaf value, boosting σ(base_score + Σ leaf values). Decode checks every
// structural rule (one parent per node, bins in range, finite numbers,
// leaf probabilities in [0, 1]) and accepts only the canonical bytes that
// Encode writes, so a model's SHA-256 is its identity.
//
// At compile time a model is described by a *Type (feature names and types,
// target), which evaluate checks against the schema of its data.
package model
