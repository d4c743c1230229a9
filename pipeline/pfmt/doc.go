// Package pfmt formats pipeline files canonically, like gofmt does Go
// files, so that reviews see only the changes that mean something.
//
// Format works on the yaml.Node tree, so comments stay attached to the keys
// and values they annotate. The canonical form is:
//
//   - top-level keys in the order mlrun, name, description, params,
//     protected, reasons, model_card, steps, then any other key in its
//     original order;
//   - within a step: kind, doc, the kind's input ports (in the kind's
//     order), its required settings (in the kind's order), its other
//     settings sorted by name, then unknown keys in their original order.
//     A kind may choose its own order of settings by implementing
//     SettingOrderer, and put some last by implementing SettingTrailer
//     (train's per-algorithm blocks). Steps keep their order, and so do the entries of
//     params and of every mapping inside a step (rules, columns, gates),
//     where order can mean something;
//   - two-space indentation, block lists indented under their key;
//   - strings plain when plain is unambiguous, otherwise double-quoted;
//     literal and folded blocks, flow collections and explicit tags kept;
//   - one blank line before a top-level key whose value (or whose
//     predecessor's value) is a block collection, and between steps;
//     no other blank lines; a final newline.
//
// Format is idempotent: Format(Format(x)) == Format(x).
package pfmt
