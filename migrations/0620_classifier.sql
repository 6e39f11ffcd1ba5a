-- Classifier models trained from the business's own history (imported tickets with their categories,
-- inspectors' corrections), each with its held-out evaluation beside the live model's and the baseline's.
-- An admin adopts one; every router replica switches to it without a restart. At most one model per
-- dimension is adopted at a time; with none adopted the router uses the model shipped in config/router.
create table classifier_models (
    version       bigserial primary key,
    dimension     text not null default 'category' check (dimension in ('category')),
    -- requested → training → trained | failed; trained → adopted → retired.
    status        text not null default 'requested'
                  check (status in ('requested', 'training', 'trained', 'failed', 'adopted', 'retired')),
    requested_by  text not null,
    requested_at  timestamptz not null default now(),
    trained_at    timestamptz,
    -- Labelled examples used (training + held out).
    examples      integer,
    -- The trained model (the router's TextModel as JSON); dropped from answers, which are about figures.
    model         jsonb,
    -- Held-out figures: {split, candidate, live, baseline}.
    evaluation    jsonb,
    error         text,
    adopted_by    text,
    adopted_at    timestamptz
);
create unique index classifier_models_one_adopted on classifier_models (dimension) where status = 'adopted';
