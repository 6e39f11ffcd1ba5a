//! Words for codes in the reader's language (zh default, en), for what the api itself renders (the
//! per-ticket report). Fixed codes (statuses, priorities, channels, outcomes, satisfaction, the 8
//! steps, timeline kinds) are the product's own; business codes (categories, feedback types,
//! departments) are each business's: those come from the taxonomy when one is set up, and fall back
//! to the defaults the product ships (docs/domain.md "Classification and routing") or to the code itself.

use serde::Deserialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// 中文 (default)
    #[default]
    Zh,
    En,
}

impl Lang {
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// (code, 中文, English) of every fixed code the report shows.
const FIXED: &[(&str, &str, &str)] = &[
    // Statuses.
    ("new", "新建", "New"),
    ("needs_review", "待复核", "Needs review"),
    ("open", "处理中", "Open"),
    ("waiting_on_customer", "等待客户", "Waiting on customer"),
    ("resolved", "已解决", "Resolved"),
    ("reopened", "重新打开", "Reopened"),
    ("archived", "已归档", "Archived"),
    // Priorities.
    ("urgent", "紧急", "Urgent"),
    ("general", "一般", "General"),
    ("suggestion", "建议", "Suggestion"),
    // Channels.
    ("form", "在线表单", "Web form"),
    ("app", "App 反馈", "App"),
    ("ivr", "IVR 语音", "IVR"),
    ("phone", "电话", "Phone"),
    ("chat", "在线客服", "Chat"),
    ("email", "电子邮件", "E-mail"),
    ("social", "社交媒体", "Social media"),
    // Outcomes.
    ("full", "完全解决", "fully resolved"),
    ("partial", "部分解决", "partially resolved"),
    ("unresolved", "未解决", "unresolved"),
    // Satisfaction.
    ("satisfied", "满意", "Satisfied"),
    ("basically_satisfied", "基本满意", "Basically satisfied"),
    ("unsatisfied", "不满意", "Unsatisfied"),
    // The 8 steps.
    ("intake", "受理", "Intake"),
    ("confirm_information", "信息确认", "Confirm information"),
    ("analyse", "问题分析", "Analyse"),
    ("propose_solution", "提出方案", "Propose a solution"),
    ("implement", "方案实施", "Implement"),
    ("confirm_resolution", "确认解决", "Confirm resolution"),
    ("revisit", "回访", "Revisit"),
    ("archive", "归档", "Archive"),
];

/// Timeline kinds: what a person (or a worker) did.
const KINDS: &[(&str, &str, &str)] = &[
    ("registered", "登记", "Registered"),
    ("imported", "导入", "Imported"),
    ("classified", "自动分类", "Classified"),
    ("routed", "分派部门", "Routed"),
    ("reclassified", "重新分类", "Reclassified"),
    (
        "reclassify_requested",
        "申请重新分类",
        "Reclassification requested",
    ),
    ("replied", "回复客户", "Replied"),
    ("note", "内部备注", "Internal note"),
    ("step", "处理步骤", "Handling step"),
    ("contacted", "主动联系", "Contacted the customer"),
    ("waiting_on_customer", "等待客户", "Waiting on the customer"),
    ("resumed", "恢复处理", "Resumed"),
    ("priority_changed", "调整优先级", "Priority changed"),
    ("assigned", "指派", "Assigned"),
    ("merged", "合并为重复", "Merged as duplicate"),
    ("duplicate_merged", "合并重复工单", "Duplicate merged in"),
    ("resolved", "确认解决", "Resolved"),
    ("solution_approved", "批准方案", "Solution approved"),
    ("report_reviewed", "审核报告", "Report reviewed"),
    ("reopened", "重新打开", "Reopened"),
    ("archived", "归档", "Archived"),
    ("supplemented", "补充信息", "Information supplemented"),
    ("revealed", "查看客户联系方式", "Customer contact revealed"),
    ("sla_clocks", "SLA 计时", "SLA clocks"),
    ("sla_warning", "SLA 预警", "SLA warning"),
    ("sla_breach", "SLA 超时", "SLA breach"),
    ("sla_escalation", "SLA 升级", "SLA escalation"),
    ("survey_scheduled", "安排回访调查", "Survey scheduled"),
    ("survey_answered", "客户评价", "Survey answered"),
    ("survey_skipped", "跳过回访调查", "Survey skipped"),
    ("survey_cancelled", "取消回访调查", "Survey cancelled"),
    (
        "survey_escalated",
        "评价不满意升级",
        "Unsatisfied answer escalated",
    ),
];

/// The product's default categories (问题类型).
const DEFAULT_CATEGORIES: &[(&str, &str, &str)] = &[
    ("pre_sales", "售前咨询", "Pre-sales consultation"),
    ("order", "售中订单", "Order in progress"),
    ("after_sales", "售后退换", "After-sales return/exchange"),
    ("technical_fault", "技术故障", "Technical fault"),
    ("service_complaint", "服务投诉", "Service complaint"),
    ("logistics_delay", "物流延迟", "Logistics delay"),
    ("other", "其他", "Other"),
];

/// The product's default feedback types (反馈类型).
const DEFAULT_FEEDBACK_TYPES: &[(&str, &str, &str)] = &[
    ("service_attitude", "服务态度", "Service attitude"),
    ("response_speed", "响应速度", "Response speed"),
    ("product_quality", "产品质量", "Product quality"),
    ("process_experience", "流程体验", "Process experience"),
    ("suggestion_other", "建议其他", "Suggestion / other"),
];

/// The product's default departments.
const DEFAULT_DEPARTMENTS: &[(&str, &str, &str)] = &[
    ("customer_service", "客服部", "Customer service"),
    ("logistics", "物流部", "Logistics"),
    ("product", "产品部", "Product"),
    ("sales", "销售部", "Sales"),
    ("order_ops", "订单运营部", "Order operations"),
    ("after_sales", "售后部", "After-sales"),
];

/// Which list a business code belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BusinessKind {
    Category,
    FeedbackType,
    Department,
}

fn find(table: &[(&str, &str, &str)], code: &str, lang: Lang) -> Option<String> {
    table
        .iter()
        .find(|(c, _, _)| *c == code)
        .map(|(_, zh, en)| lang.pick(zh, en).to_string())
}

/// A fixed code's label, or the code itself.
pub fn fixed(code: &str, lang: Lang) -> String {
    find(FIXED, code, lang).unwrap_or_else(|| code.to_string())
}

/// A timeline kind's label, or the kind itself.
pub fn kind(code: &str, lang: Lang) -> String {
    find(KINDS, code, lang).unwrap_or_else(|| code.to_string())
}

/// Business labels ((list, code) -> (zh, en)) as the taxonomy holds them.
pub type Business = std::collections::HashMap<(BusinessKind, String), (String, String)>;

/// A business code's label: the taxonomy's, else the product default, else the code.
pub fn business(taxonomy: &Business, list: BusinessKind, code: &str, lang: Lang) -> String {
    let defaults = match list {
        BusinessKind::Category => DEFAULT_CATEGORIES,
        BusinessKind::FeedbackType => DEFAULT_FEEDBACK_TYPES,
        BusinessKind::Department => DEFAULT_DEPARTMENTS,
    };
    taxonomy
        .get(&(list, code.to_string()))
        .map(|(zh, en)| lang.pick(zh, en).to_string())
        .or_else(|| find(defaults, code, lang))
        .unwrap_or_else(|| code.to_string())
}

/// A role's label.
pub fn role(code: &str, lang: Lang) -> String {
    match code {
        "agent" => lang.pick("客服专员", "agent"),
        "inspector" => lang.pick("质检专员", "inspector"),
        "supervisor" => lang.pick("部门主管", "supervisor"),
        "admin" => lang.pick("管理员", "admin"),
        "ops" => lang.pick("运维", "ops"),
        "worker" => lang.pick("系统", "system"),
        other => other,
    }
    .to_string()
}
