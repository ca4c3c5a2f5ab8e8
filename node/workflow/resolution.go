package workflow

import (
	"errors"
	"fmt"

	"github.com/sanzi/sanzi/node/catalog"
	"github.com/sanzi/sanzi/node/money"
	sanziv1 "github.com/sanzi/sanzi/proto/gen/sanzi/v1"
)

// ResolutionStep is the step of a four-deliberations matter (四议两公开)
// whose approval means the spending was resolved: the steps are taken in
// order, so propose, consult, deliberate and the assembly's resolve are
// behind it, and the resolution has been published (the first 公开). A
// matter with this step is of the four-deliberations kind.
const ResolutionStep = "publish_resolution"

// bigSpendMatter is the matter named in a refusal when the catalog gives an
// expense no four-deliberations matter of its own (a district that raised
// FUND-BIG's threshold above rule BIG-SPEND's).
const bigSpendMatter = "FUND-BIG"

// Resolution is the node's verdict on the four-deliberations resolution a
// transaction names (resolution_procedure_id): rule BIG-SPEND reads only
// Approved, and its refusal names Matter, ID and Why.
type Resolution struct {
	// Matter is the four-deliberations matter the spending falls under
	// (FUND-BIG, WORKS-TENDER); nil when the catalog has none.
	Matter *sanziv1.Matter
	// ID is the procedure the transaction names, "" when none.
	ID string
	// Proc is that procedure, nil when none is named or there is no such.
	Proc *Proc
	// Approved: Proc is of Matter, of the transaction's org, its
	// ResolutionStep approved and not since returned, and (the matter
	// being one of amounts) its amount covers the transaction's.
	Approved bool
	// Why says in Chinese what is missing; empty when Approved.
	Why string
}

// deliberates says whether m is of the four-deliberations kind.
func deliberates(m *sanziv1.Matter) bool {
	return m != nil && catalog.StepIndex(m, ResolutionStep) >= 0
}

// Resolution judges the resolution t names from the procedures the node
// holds: never from anything the caller says of its status.
func (f *Flows) Resolution(t *sanziv1.Transaction) Resolution {
	need := f.MatterFor(t)
	if !deliberates(need) {
		need = f.matter(bigSpendMatter)
		if !deliberates(need) {
			need = nil
		}
	}
	r := Resolution{Matter: need, ID: t.GetResolutionProcedureId()}
	if r.ID == "" {
		r.Why = "未注明已通过的四议两公开办理流程编号（resolutionProcedureId）"
		return r
	}
	p, err := f.Get(r.ID)
	if err == nil {
		err = p.unpack() // a closed one a checkpoint restored keeps its steps packed
	}
	if err != nil {
		// Not held, or the archive could not be read: not approved
		// either way, and said as such.
		r.Why = fmt.Sprintf("本节点没有办理流程 %s", r.ID)
		if !errors.Is(err, ErrNotFound) {
			r.Why = fmt.Sprintf("办理流程 %s 读取失败：%v", r.ID, err)
		}
		return r
	}
	r.Proc = p
	i := catalog.StepIndex(p.Matter, ResolutionStep)
	switch {
	case p.P.GetOrg() != t.GetOrg():
		r.Why = fmt.Sprintf("办理流程 %s 属于 %s，不是 %s 的", r.ID, p.P.GetOrg(), t.GetOrg())
	case need == nil || p.P.GetMatterCode() != need.GetCode() || i < 0:
		r.Why = fmt.Sprintf("办理流程 %s 是事项 %s“%s”，不是本笔支出的四议两公开事项", r.ID, p.P.GetMatterCode(), p.Matter.GetName())
	case p.Status == StatusRejected:
		r.Why = fmt.Sprintf("办理流程 %s 已被否决", r.ID)
	case Status(p.Steps[i].GetStatus()) != StatusApproved:
		open, _ := p.OpenStep()
		r.Why = fmt.Sprintf("办理流程 %s 尚在“%s”环节，决议未经表决并公开", r.ID, open.GetName())
	case p.Matter.GetThresholdFen() > 0 && p.P.GetAmountFen() < t.GetAmountFen():
		r.Why = fmt.Sprintf("办理流程 %s 决议金额%s元，少于本笔%s元", r.ID, money.FormatFen(p.P.GetAmountFen()), money.FormatFen(t.GetAmountFen()))
	default:
		r.Approved, r.Why = true, ""
	}
	return r
}

// Refusal is the text a refusal by rule BIG-SPEND adds to the rule's
// reason: the matter whose procedure is needed and what is wrong with the
// one named.
func (r Resolution) Refusal() string {
	m := "四议两公开事项（目录中没有）"
	if r.Matter != nil {
		m = fmt.Sprintf("事项 %s“%s”", r.Matter.GetCode(), r.Matter.GetName())
	}
	return "须" + m + "的办理流程已通过决议并公开；" + r.Why
}
