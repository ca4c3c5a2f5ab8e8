package notify

import (
	"fmt"
	"strings"
	"time"
)

// severityNames are the Chinese names of rule severities.
var severityNames = map[string]string{"info": "提示", "yellow": "黄色", "red": "红色"}

// AlertMessage tells post at org that rule ruleCode raised alert alertID on
// entry subjectID, with the rule's reason, and what the town reviewer owes
// (acknowledge in one working day, close in five; DOMAIN.md). The ID holds
// the post as well as the alert, so the same alert sent to the reviewer and
// to the discipline office are two messages to the receiver, not duplicates.
func AlertMessage(org, post, alertID, ruleCode, severity, reason, subjectID string) Message {
	sev := severityNames[severity]
	if sev == "" {
		sev = severity
	}
	return Message{
		Kind:    KindAlert,
		Org:     org,
		Post:    post,
		Subject: fmt.Sprintf("【三资监管·监管预警】规则 %s 触发（%s）", ruleCode, sev),
		Body: fmt.Sprintf("【三资监管·监管预警】监管规则「%s」（%s）对业务 %s 发出预警：%s。"+
			"请在1个工作日内确认、5个工作日内处置（预警编号 %s）。", ruleCode, sev, subjectID, strings.TrimRight(reason, "。"), alertID),
		Data: map[string]string{
			"alert_id": alertID, "rule_code": ruleCode, "severity": severity,
			"reason": reason, "subject_id": subjectID,
		},
		ID: alertID + "/" + KindAlert + "/" + post,
	}
}

// deadlineTexts are, per kind, the label, what happened and what to do.
var deadlineTexts = map[string][3]string{
	KindWarning:    {"预警", "即将到达办理时限", "请及时办理。"},
	KindYellowCard: {"黄牌", "已超过办理时限", "请立即办理。"},
	KindRedCard:    {"红牌", "已严重超过办理时限", "已通报镇领导和纪检部门，请立即办理并提交书面说明。"},
}

// DeadlineMessage tells post at org that step of matter, handled by person,
// is near its deadline (kind warning) or past it (yellow_card, red_card).
// The deadline is shown in loc (UTC when nil), the local time the reader
// works in, and carried in Data as RFC 3339 UTC. The ID is made from org,
// matter, step, deadline, kind and post; a caller that has the step's own
// entry id should set ID to that id, kind and post instead.
func DeadlineMessage(kind, org, post, matter, step, person string, deadline time.Time, loc *time.Location) Message {
	if loc == nil {
		loc = time.UTC
	}
	t, ok := deadlineTexts[kind]
	if !ok {
		t = [3]string{"提醒", "需要办理", "请及时办理。"}
	}
	due := deadline.In(loc).Format("2006-01-02 15:04")
	body := fmt.Sprintf("【三资监管·%s】事项「%s」的步骤「%s」%s（截止 %s），%s", t[0], matter, step, t[1], due, t[2])
	if person != "" {
		body += "经办人：" + person + "。"
	}
	utc := deadline.UTC().Format(time.RFC3339)
	return Message{
		Kind:    kind,
		Org:     org,
		Post:    post,
		Subject: fmt.Sprintf("【三资监管·%s】%s · %s %s", t[0], matter, step, t[1]),
		Body:    body,
		Data:    map[string]string{"matter": matter, "step": step, "person": person, "deadline": utc},
		ID:      org + "/" + matter + "/" + step + "/" + utc + "/" + kind + "/" + post,
	}
}
