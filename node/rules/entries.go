package rules

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sanzi/sanzi/node/idcode"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// kindVars declares, per entry kind, the variables its expressions see.
var kindVars = map[string][]cel.EnvOption{
	KindTransaction: {
		cel.Variable("tx", cel.ObjectType("sanzi.v1.Transaction")),
		cel.Variable("resolution_approved", cel.BoolType),
	},
	KindContract:          {cel.Variable("contract", cel.ObjectType("sanzi.v1.Contract"))},
	KindContractPayment:   {cel.Variable("payment", cel.ObjectType("sanzi.v1.ContractPayment"))},
	KindAssetAppraisal:    {cel.Variable("appraisal", cel.ObjectType("sanzi.v1.AssetAppraisal"))},
	KindAssetRegistration: {cel.Variable("asset", cel.ObjectType("sanzi.v1.AssetRegistration"))},
	KindAssetDisposal: {
		cel.Variable("disposal", cel.ObjectType("sanzi.v1.AssetDisposal")),
		cel.Variable("appraised_value_fen", cel.IntType),
	},
	KindVoucher: {
		cel.Variable("voucher", cel.ObjectType("sanzi.v1.Voucher")),
		cel.Variable("roles", cel.MapType(cel.StringType, cel.StringType)),
		cel.Variable("money_out_fen", cel.IntType),
		cel.Variable("money_in_fen", cel.IntType),
		cel.Variable("source", cel.StringType),
		cel.Variable("source_kind", cel.IntType),
		cel.Variable("resolution_approved", cel.BoolType),
	},
}

// kindEnvs builds one CEL environment per entry kind, once per process: the
// environments are immutable and building them is the slow part of Compile.
var kindEnvs = sync.OnceValues(func() (map[string]*cel.Env, error) {
	base, err := cel.NewEnv(
		cel.Types(&sanziv1.Transaction{}, &sanziv1.Contract{}, &sanziv1.ContractPayment{},
			&sanziv1.AssetDisposal{}, &sanziv1.AssetAppraisal{}, &sanziv1.AssetRegistration{}, &sanziv1.Voucher{}),
		cel.Container("sanzi.v1"),
		cel.Variable("params", cel.MapType(cel.StringType, cel.IntType)),
		fn("days_between", cel.IntType, cel.BinaryBinding(dateFunc("days_between", func(d1, d2 time.Time) ref.Val {
			return types.Int((d2.Unix() - d1.Unix()) / 86400) // no Duration: it saturates at 292 years
		})), cel.StringType, cel.StringType),
		fn("years_between", cel.DoubleType, cel.BinaryBinding(dateFunc("years_between", func(d1, d2 time.Time) ref.Val {
			return types.Double(yearsBetween(d1, d2))
		})), cel.StringType, cel.StringType),
		fn("add_days", cel.StringType, cel.BinaryBinding(addDays), cel.StringType, cel.IntType),
		fn("is_round", cel.BoolType, cel.BinaryBinding(isRound), cel.IntType, cel.IntType),
		fn("is_resident_id", cel.BoolType, cel.UnaryBinding(func(v ref.Val) ref.Val {
			return types.Bool(isResidentID(string(v.(types.String))))
		}), cel.StringType),
	)
	if err != nil {
		return nil, fmt.Errorf("rules: CEL environment: %w", err)
	}
	envs := map[string]*cel.Env{}
	for k, vars := range kindVars {
		if envs[k], err = base.Extend(vars...); err != nil {
			return nil, fmt.Errorf("rules: CEL environment for %s: %w", k, err)
		}
	}
	return envs, nil
})

// fn declares a helper function with a single overload.
func fn(name string, result *cel.Type, impl cel.OverloadOpt, args ...*cel.Type) cel.EnvOption {
	return cel.Function(name, cel.Overload(name, args, result, impl))
}

// dateFunc wraps a function of two YYYY-MM-DD dates as a CEL binding whose
// error names the helper and the bad text.
func dateFunc(name string, f func(d1, d2 time.Time) ref.Val) func(a, b ref.Val) ref.Val {
	return func(a, b ref.Val) ref.Val {
		var d [2]time.Time
		for i, v := range []ref.Val{a, b} {
			var err error
			if d[i], err = time.Parse(time.DateOnly, string(v.(types.String))); err != nil {
				return types.NewErr("%s: %q is not a date in the form YYYY-MM-DD", name, v)
			}
		}
		return f(d[0], d[1])
	}
}

// yearsBetween counts calendar years, so that a 20-year term is exactly 20
// whatever leap days it spans, and one day more is just over.
func yearsBetween(d1, d2 time.Time) float64 {
	if d2.Before(d1) {
		return -yearsBetween(d2, d1)
	}
	n := d2.Year() - d1.Year()
	if d1.AddDate(n, 0, 0).After(d2) {
		n--
	}
	from, to := d1.AddDate(n, 0, 0), d1.AddDate(n+1, 0, 0)
	return float64(n) + float64(d2.Sub(from))/float64(to.Sub(from))
}

func addDays(a, b ref.Val) ref.Val {
	d, err := time.Parse(time.DateOnly, string(a.(types.String)))
	if n := int64(b.(types.Int)); err != nil || n < -1e6 || n > 1e6 {
		return types.NewErr("add_days(%q, %d): not a YYYY-MM-DD date, or more than a million days", a, b)
	}
	return types.String(d.AddDate(0, 0, int(b.(types.Int))).Format(time.DateOnly))
}

func isRound(a, b ref.Val) ref.Val {
	if b.(types.Int) <= 0 {
		return types.NewErr("is_round: unit_fen %d must be greater than 0", b)
	}
	return types.Bool(a.(types.Int)%b.(types.Int) == 0)
}

// residentIDClock is far ahead so that is_resident_id depends only on the
// entry, never on the day a rule is replayed; future birth dates are refused
// when the entry is validated.
var residentIDClock = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

func isResidentID(s string) bool { return idcode.ResidentID(s, residentIDClock) == nil }

// evidence reads the figures named by fields (proto paths) from m, under
// the path with "_" for ".": enums by name, repeated fields as their count.
// The keys are fixed per kind, present even when empty, so an alert reader
// always finds the same figures for the same kind of entry.
func evidence(m proto.Message, fields ...string) map[string]string {
	ev := map[string]string{}
	for _, path := range fields {
		msg, parts := m.ProtoReflect(), strings.Split(path, ".")
		for _, p := range parts[:len(parts)-1] {
			msg = msg.Get(msg.Descriptor().Fields().ByName(protoreflect.Name(p))).Message()
		}
		fd := msg.Descriptor().Fields().ByName(protoreflect.Name(parts[len(parts)-1]))
		v, key := msg.Get(fd), strings.ReplaceAll(path, ".", "_")
		switch {
		case fd.IsList():
			ev[key] = strconv.Itoa(v.List().Len())
		case fd.Enum() != nil && fd.Enum().Values().ByNumber(v.Enum()) != nil:
			ev[key] = string(fd.Enum().Values().ByNumber(v.Enum()).Name())
		default:
			ev[key] = fmt.Sprint(v.Interface())
		}
	}
	return ev
}

func required(what string) error { return errors.New("rules: " + what + ": required") }

// TxFacts are what the books know of a transaction that the entry alone
// does not say, found by the node itself and never taken from the caller.
type TxFacts struct {
	// ResolutionApproved: the procedure the transaction names
	// (resolution_procedure_id) is an approved four-deliberations
	// resolution that covers it (package workflow decides).
	ResolutionApproved bool
}

// CheckTransaction evaluates the transaction rules. Evidence: kind,
// amount_fen, payment_method, business_date, category, budget_line,
// invoice_number, attachments (count), counterparty_name,
// counterparty_is_person (is_resident_id of its id_number),
// resolution_procedure_id and resolution_approved (from facts).
func (e *Engine) CheckTransaction(t *sanziv1.Transaction, facts TxFacts) ([]Hit, error) {
	if t == nil {
		return nil, required("transaction")
	}
	return e.check(KindTransaction, map[string]any{"tx": t, "resolution_approved": facts.ResolutionApproved}, func() map[string]string {
		ev := evidence(t, "kind", "amount_fen", "payment_method", "business_date", "category",
			"budget_line", "invoice_number", "attachments", "counterparty.name", "resolution_procedure_id")
		ev["counterparty_is_person"] = strconv.FormatBool(isResidentID(t.GetCounterparty().GetIdNumber()))
		ev["resolution_approved"] = strconv.FormatBool(facts.ResolutionApproved)
		return ev
	})
}

// CheckContract evaluates the contract rules. Evidence: kind,
// contract_number, term_start, term_end, annual_amount_fen, object_area_mu,
// award_method, and term_years (end day included) with total_value_fen
// (annual × term_years) when both dates parse.
func (e *Engine) CheckContract(c *sanziv1.Contract) ([]Hit, error) {
	if c == nil {
		return nil, required("contract")
	}
	return e.check(KindContract, map[string]any{"contract": c}, func() map[string]string {
		ev := evidence(c, "kind", "contract_number", "term_start", "term_end", "annual_amount_fen",
			"object.area_mu", "award_method")
		start, err1 := time.Parse(time.DateOnly, c.GetTermStart())
		end, err2 := time.Parse(time.DateOnly, c.GetTermEnd())
		if err1 == nil && err2 == nil {
			y := yearsBetween(start, end.AddDate(0, 0, 1))
			ev["term_years"] = strconv.FormatFloat(y, 'f', 4, 64)
			ev["total_value_fen"] = strconv.FormatInt(int64(math.Round(float64(c.GetAnnualAmountFen())*y)), 10)
		}
		return ev
	})
}

// CheckContractPayment evaluates the contract-payment rules. Evidence:
// contract_id, amount_fen, payment_method, business_date, attachments.
func (e *Engine) CheckContractPayment(p *sanziv1.ContractPayment) ([]Hit, error) {
	if p == nil {
		return nil, required("payment")
	}
	return e.check(KindContractPayment, map[string]any{"payment": p}, func() map[string]string {
		return evidence(p, "contract_id", "amount_fen", "payment_method", "business_date", "attachments")
	})
}

// CheckAssetDisposal evaluates the disposal rules. appraisedValueFen is the
// asset's latest appraisal, 0 if never appraised: the books know it, the
// disposal does not. Evidence: asset_id, method, price_fen, disposal_date,
// appraised_value_fen.
func (e *Engine) CheckAssetDisposal(d *sanziv1.AssetDisposal, appraisedValueFen int64) ([]Hit, error) {
	if d == nil {
		return nil, required("disposal")
	}
	vars := map[string]any{"disposal": d, "appraised_value_fen": appraisedValueFen}
	return e.check(KindAssetDisposal, vars, func() map[string]string {
		ev := evidence(d, "asset_id", "method", "price_fen", "disposal_date")
		ev["appraised_value_fen"] = strconv.FormatInt(appraisedValueFen, 10)
		return ev
	})
}

// CheckAssetAppraisal evaluates the appraisal rules. Evidence: asset_id,
// appraised_value_fen, appraisal_date.
func (e *Engine) CheckAssetAppraisal(a *sanziv1.AssetAppraisal) ([]Hit, error) {
	if a == nil {
		return nil, required("appraisal")
	}
	return e.check(KindAssetAppraisal, map[string]any{"appraisal": a}, func() map[string]string {
		return evidence(a, "asset_id", "appraised_value_fen", "appraisal_date")
	})
}

// CheckAssetRegistration evaluates the registration rules. Evidence:
// asset_code, category, original_value_fen, acquired_date.
func (e *Engine) CheckAssetRegistration(a *sanziv1.AssetRegistration) ([]Hit, error) {
	if a == nil {
		return nil, required("asset")
	}
	return e.check(KindAssetRegistration, map[string]any{"asset": a}, func() map[string]string {
		return evidence(a, "asset_code", "category", "original_value_fen", "acquired_date")
	})
}
