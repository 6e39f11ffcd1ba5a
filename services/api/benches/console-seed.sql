-- The console benchmarks' data: {tickets} tickets over 2025, five departments, every channel; g % 3 = 0
-- are open with running SLA clocks. Read by services/api/benches/console.rs and by the console's
-- e2e/bench.mjs, each replacing {tickets} with the number.
insert into tickets (id, ticket_no, channel, external_id, submitted_at, received_at, customer_id, customer_name,
    customer_phone, description, priority, status, category, lead_department, departments, owner)
select gen_random_uuid(), 'C' || lpad(g::text, 9, '0'), c.channel, 'console-' || g, s.at, s.at,
    'CUST' || (g % 200000), '张三', '138' || lpad((g % 100000000)::text, 8, '0'),
    '客户反馈第 ' || g || ' 号：订单物流延迟，包装破损，希望尽快处理', (array['urgent','general','suggestion'])[1 + g % 3],
    case when g % 3 = 0 then 'open' when g % 3 = 1 then 'resolved' else 'archived' end,
    (array['pre_sales','order','after_sales','technical_fault','service_complaint','logistics_delay','other'])[1 + g % 7],
    d.dept, array[d.dept], case when g % 2 = 0 then 'agent' || (g % 50) end
from generate_series(1, {tickets}) g
cross join lateral (select timestamptz '2025-01-01 00:00:00+08' + (g::double precision / {tickets}) * interval '365 days' as at) s
cross join lateral (select (array['form','app','ivr','chat','email','phone','social'])[1 + (g / 7) % 7] as channel) c
cross join lateral (select (array['customer_service','product','logistics','tech','sales'])[1 + (g / 3) % 5] as dept) d;

insert into sla_tickets (ticket_id, ticket_no, priority, department)
select id, ticket_no, priority, lead_department from tickets where status = 'open';
insert into sla_clocks (ticket_id, kind, cycle, version, status, basis, target_us, warning_fractions, started_at,
    elapsed_us, running_since, due_at)
select t.id, k.kind, 1, 1, 'running', 'wall', 86400000000, '[0.75, 0.9]', t.submitted_at, 0, t.submitted_at,
    now() + ((hashtext(t.id::text) % 100000) * interval '1 minute')
from tickets t cross join (values ('first_response'), ('resolution')) k(kind) where t.status = 'open';
