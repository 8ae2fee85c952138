//! The Chinese names of the choices records hold, as a secretary writes them in a ledger.
//! They match the app's (`pwa/src/ui/i18n.ts`); the codes are client-core's `domain_enum!`s.

/// The Chinese name of `code` in `field`, or the code itself if it has none.
pub fn zh<'a>(field: &str, code: &'a str) -> &'a str {
    match (field, code) {
        ("category", "political_theory") => "政治理论",
        ("category", "grassroots_work") => "基层业务",
        ("category", "skills") => "技能提升",
        ("venue", "field") => "田间课堂",
        ("venue", "courtyard") => "屋场会",
        ("venue", "market") => "集市微讲台",
        ("venue", "activity_room") => "党员活动室",
        ("venue", "home_delivery") => "上门送课",
        ("venue", "remote") => "远程微党课",
        ("kind", "patrol") => "巡逻值守",
        ("kind", "sanitation") => "卫生清理",
        ("kind", "clinic") => "义诊",
        ("kind", "elderly_care") => "关爱老人",
        ("kind", "emergency") => "应急处置",
        ("kind", "members_assembly") => "支部党员大会",
        ("kind", "committee") => "支委会",
        ("kind", "group") => "党小组会",
        ("kind", "party_lecture") => "党课",
        ("kind", "theme_day") => "主题党日",
        ("status", "open") => "未开始",
        ("status", "in_progress") => "整改中",
        ("status", "done") => "已完成",
        ("status", "verified") => "已验收",
        ("method", "dispatch") => "平时调度",
        ("method", "report") => "听取汇报",
        ("method", "forum") => "党群座谈",
        ("method", "documents") => "查阅资料",
        ("method", "on_site") => "实地查看",
        ("grade", "excellent") => "好",
        ("grade", "good") => "较好",
        ("grade", "fair") => "一般",
        ("grade", "poor") => "差",
        ("role", "member") => "党员",
        ("role", "admin") => "支委",
        (_, "other") => "其他",
        _ => code,
    }
}
